//! A pod's required node affinity, parsed once into label requirements so
//! that matching it against a node compares strings and nothing else (as
//! Kubernetes' `nodeaffinity.NodeSelector`).
//!
//! A `NodeSelector` is a list of `nodeSelectorTerms`, ORed; each term ANDs its
//! `matchExpressions` (In, NotIn, Exists, DoesNotExist, Gt, Lt over labels)
//! and `matchFields` (In or NotIn over `metadata.name`). As in Kubernetes, a
//! term with no requirements matches nothing, and a malformed term (a bad
//! operator, a Gt value that is not an integer) matches nothing while the
//! other terms still count.

use api::selector::{Operator, Requirement};
use k8s_openapi::api::core::v1 as corev1;
use std::collections::BTreeMap;

/// A `matchFields` requirement: the node's name is (not) `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NameRequirement {
    negated: bool,
    value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    labels: Vec<Requirement>,
    fields: Vec<NameRequirement>,
}

impl Term {
    /// None for a term Kubernetes could not turn into a selector.
    fn new(term: &corev1::NodeSelectorTerm) -> Option<Self> {
        let mut labels = Vec::new();
        for e in term.match_expressions.iter().flatten() {
            let operator = match e.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                "Gt" => Operator::GreaterThan,
                "Lt" => Operator::LessThan,
                _ => return None,
            };
            labels.push(Requirement::new(&e.key, operator, e.values.clone().unwrap_or_default()).ok()?);
        }
        let mut fields = Vec::new();
        for e in term.match_fields.iter().flatten() {
            if e.key != "metadata.name" {
                return None;
            }
            let negated = match e.operator.as_str() {
                "In" => false,
                "NotIn" => true,
                _ => return None,
            };
            let [value] = <[String; 1]>::try_from(e.values.clone().unwrap_or_default()).ok()?;
            fields.push(NameRequirement { negated, value });
        }
        Some(Self { labels, fields })
    }

    fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        if self.labels.is_empty() && self.fields.is_empty() {
            return false;
        }
        self.labels.iter().all(|r| r.matches(labels)) && self.fields.iter().all(|f| (f.value == name) != f.negated)
    }
}

/// A parsed `NodeSelector` (the `nodeSelectorTerms` of required node affinity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSelector {
    /// None: a malformed term, which matches no node.
    terms: Vec<Option<Term>>,
}

impl NodeSelector {
    pub fn new(selector: &corev1::NodeSelector) -> Self {
        Self { terms: selector.node_selector_terms.iter().map(Term::new).collect() }
    }

    pub fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        self.terms.iter().flatten().any(|t| t.matches(name, labels))
    }
}
