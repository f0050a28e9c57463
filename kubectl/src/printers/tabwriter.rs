//! Column alignment as Go's `text/tabwriter` does it, which is what gives
//! kubectl's tables and describe output their exact shape.
//!
//! Text is a sequence of lines whose cells end in `\t`; the text after the
//! last tab of a line is not part of any column. A column is a block of
//! consecutive lines that all have a cell at that index, so a line with fewer
//! cells ends the block (describe relies on this: `Containers:` starts fresh
//! alignment). Each column is as wide as its widest cell plus `padding`, but at
//! least `min_width`. With `remember_widths` (kubectl's fork of tabwriter used by
//! `get --watch`), widths never shrink between flushes, so watch rows stay
//! under their headers.

/// A tabwriter configuration.
#[derive(Debug, Clone)]
pub struct TabWriter {
    min_width: usize,
    padding: usize,
    remember_widths: bool,
    remembered: Vec<usize>,
}

impl TabWriter {
    /// The writer `kubectl get` uses: min width 6, padding 3, widths remembered.
    pub fn for_tables() -> Self {
        Self { min_width: 6, padding: 3, remember_widths: true, remembered: vec![] }
    }

    /// The writer `kubectl describe` uses: no minimum, padding 2.
    pub fn for_describe() -> Self {
        Self { min_width: 0, padding: 2, remember_widths: false, remembered: vec![] }
    }

    /// Aligns `text` (lines separated by `\n`, cells by `\t`) and returns it.
    pub fn format(&mut self, text: &str) -> String {
        let trailing_newline = text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines: Vec<Vec<&str>> = body.split('\n').map(|l| l.split('\t').collect()).collect();
        let mut out = String::with_capacity(text.len() * 2);
        let mut widths = Vec::new();
        self.format_block(&lines, 0, lines.len(), &mut widths, &mut out);
        if !trailing_newline && out.ends_with('\n') {
            out.pop();
        }
        out
    }

    fn format_block(
        &mut self,
        lines: &[Vec<&str>],
        mut start: usize,
        end: usize,
        widths: &mut Vec<usize>,
        out: &mut String,
    ) {
        let column = widths.len();
        let mut this = start;
        while this < end {
            // Cells that end in a tab are `len - 1`; the last piece is free text.
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // A block of lines with a cell in this column begins here.
            self.write_lines(lines, start, this, widths, out);
            start = this;
            let mut width = self.min_width;
            while this < end && column + 1 < lines[this].len() {
                width = width.max(display_width(lines[this][column]) + self.padding);
                this += 1;
            }
            if self.remember_widths {
                if self.remembered.len() <= column {
                    self.remembered.resize(column + 1, 0);
                }
                width = width.max(self.remembered[column]);
                self.remembered[column] = width;
            }
            widths.push(width);
            self.format_block(lines, start, this, widths, out);
            widths.pop();
            start = this;
        }
        self.write_lines(lines, start, end, widths, out);
    }

    fn write_lines(&self, lines: &[Vec<&str>], start: usize, end: usize, widths: &[usize], out: &mut String) {
        for line in &lines[start..end] {
            for (j, cell) in line.iter().enumerate() {
                out.push_str(cell);
                if j + 1 < line.len() && j < widths.len() {
                    let pad = widths[j].saturating_sub(display_width(cell));
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push('\n');
        }
    }
}

fn display_width(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_like_kubectl_get() {
        let mut tw = TabWriter::for_tables();
        let text =
            "NAME\tREADY\tSTATUS\tRESTARTS\tAGE\nkubia\t1/1\tRunning\t0\t79m\nkubia-manual\t1/1\tRunning\t0\t37s\n";
        assert_eq!(
            tw.format(text),
            "NAME           READY   STATUS    RESTARTS   AGE\n\
             kubia          1/1     Running   0          79m\n\
             kubia-manual   1/1     Running   0          37s\n"
        );
    }

    #[test]
    fn narrow_columns_take_the_minimum_width() {
        let mut tw = TabWriter::for_tables();
        assert_eq!(tw.format("a\tb\n"), "a     b\n");
    }

    #[test]
    fn watch_rows_keep_the_header_widths() {
        let mut tw = TabWriter::for_tables();
        tw.format("NAME\tREADY\tSTATUS\tRESTARTS\tAGE\nkubia\t0/1\tPending\t0\t0s\n");
        assert_eq!(tw.format("kubia\t1/1\tRunning\t0\t3s\n"), "kubia   1/1     Running   0          3s\n");
        // A wider cell widens its column from then on.
        assert_eq!(
            tw.format("kubia\t0/1\tContainerCreating\t0\t1s\n"),
            "kubia   0/1     ContainerCreating   0          1s\n"
        );
        assert_eq!(tw.format("kubia\t1/1\tRunning\t0\t3s\n"), "kubia   1/1     Running             0          3s\n");
    }

    #[test]
    fn describe_blocks_restart_after_lines_without_cells() {
        let mut tw = TabWriter::for_describe();
        let text = "Name:\tkubia\nNamespace:\tdefault\nIPs:\n  IP:\t10.244.2.2\nContainers:\n  kubia:\n    Image:\tluksa/kubia\n    Restart Count:\t0\n";
        assert_eq!(
            tw.format(text),
            "Name:       kubia\n\
             Namespace:  default\n\
             IPs:\n  \
               IP:  10.244.2.2\n\
             Containers:\n  \
               kubia:\n    \
                 Image:          luksa/kubia\n    \
                 Restart Count:  0\n"
        );
    }

    #[test]
    fn the_last_cell_of_a_line_is_not_padded() {
        let mut tw = TabWriter::for_describe();
        assert_eq!(tw.format("a:\tb\nlonger:\tc"), "a:       b\nlonger:  c");
    }
}
