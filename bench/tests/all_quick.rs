//! The CI bench run: `bench all --quick --out <tempdir>` through the binary
//! (the scenarios start it as their child processes), checking that every
//! scenario completes and the report and its plots are written.

use std::process::Command;

#[test]
fn all_quick_writes_the_report_and_plots() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("bench-report");
    let status = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["all", "--quick", "--out"])
        .arg(&out)
        .status()
        .expect("run bench all");
    let report = std::fs::read_to_string(out.join("report.md")).expect("report.md is written");
    for section in bench::all::SECTIONS {
        assert!(report.contains(section), "no {section} section in\n{report}");
    }
    assert!(!report.contains("did not complete"), "a scenario failed:\n{report}");
    for plot in [bench::all::STARTUP_PLOT, bench::all::NODES_PLOT] {
        let svg = std::fs::read_to_string(out.join(plot)).expect("plot is written");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{plot}");
        assert!(report.contains(plot), "the report links {plot}");
    }
    // The startup plot shows the latency pods, whose p99 is the SLO figure,
    // not the saturation pods' queueing.
    let startup = std::fs::read_to_string(out.join(bench::all::STARTUP_PLOT)).expect("startup plot");
    assert!(startup.contains("holding 500 pods"), "the startup plot is not of the latency pods:\n{startup}");
    for metric in ["pod startup p99", "pods bound/s end to end @ 100 nodes", "RSS kubelet per pod"] {
        assert!(report.contains(metric), "no {metric} in\n{report}");
    }
    assert!(status.success(), "bench all --quick failed:\n{report}");
}
