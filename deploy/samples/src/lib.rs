//! The book's sample apps and the tools their images carry, kept small and std-only
//! so the images stay a few megabytes: `kubia` (the book's Node.js app), a `curl`
//! good enough for the book's commands, and `pause`, which holds a pod's namespaces.

pub mod curl;
pub mod http;
pub mod kubia;
pub mod signals;
