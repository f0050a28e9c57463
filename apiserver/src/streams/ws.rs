//! Kubernetes' WebSocket channel protocols (`channel.k8s.io` and its
//! versions): every message starts with the number of the channel it belongs
//! to; `base64` variants send text messages whose first character is the
//! channel's digit and whose rest is base64. `v5.channel.k8s.io` adds channel
//! 255, on which the client says it closed one of its channels.

use base64::Engine;
use tokio_tungstenite::tungstenite::Message;

/// `v5.channel.k8s.io`'s close signal: `[255, channel]`.
pub const CLOSE_CHANNEL: u8 = 255;

/// One of the channel subprotocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelProtocol {
    /// The subprotocol's name ("" when the client asked for none).
    pub name: &'static str,
    /// Text messages with base64 data instead of binary ones.
    pub base64: bool,
    /// The error channel carries a JSON Status (v4 and v5) rather than text.
    pub status_json: bool,
    /// The client may close a channel with `[255, channel]` (v5).
    pub close_signal: bool,
}

const fn protocol(name: &'static str, base64: bool, version: u8) -> ChannelProtocol {
    ChannelProtocol { name, base64, status_json: version >= 4, close_signal: version >= 5 }
}

/// What exec and attach speak, as kube-apiserver and the kubelet do together.
pub const EXEC_PROTOCOLS: &[ChannelProtocol] = &[
    protocol("v5.channel.k8s.io", false, 5),
    protocol("v4.channel.k8s.io", false, 4),
    protocol("v4.base64.channel.k8s.io", true, 4),
    protocol("channel.k8s.io", false, 1),
    protocol("base64.channel.k8s.io", true, 1),
];

/// What port-forward speaks over plain channels (the kubelet's list, and v5).
pub const PORT_FORWARD_PROTOCOLS: &[ChannelProtocol] = &[
    protocol("v5.channel.k8s.io", false, 5),
    protocol("v4.channel.k8s.io", false, 4),
    protocol("v4.base64.channel.k8s.io", true, 4),
];

/// The subprotocol a client offering `offered` (in its order of preference)
/// gets, or None when none is supported. A client offering nothing gets the
/// original binary `channel.k8s.io`.
pub fn negotiate(offered: &[String], supported: &[ChannelProtocol]) -> Option<ChannelProtocol> {
    if offered.is_empty() {
        return Some(ChannelProtocol { name: "", ..protocol("channel.k8s.io", false, 1) });
    }
    offered.iter().find_map(|o| supported.iter().find(|p| p.name == o.as_str()).copied())
}

impl ChannelProtocol {
    /// A message carrying `data` on `channel`.
    pub fn message(&self, channel: u8, data: &[u8]) -> Message {
        if self.base64 {
            let mut text = String::with_capacity(1 + data.len().div_ceil(3) * 4);
            text.push(char::from(b'0' + channel));
            base64::engine::general_purpose::STANDARD.encode_string(data, &mut text);
            Message::text(text)
        } else {
            let mut bytes = Vec::with_capacity(1 + data.len());
            bytes.push(channel);
            bytes.extend_from_slice(data);
            Message::binary(bytes)
        }
    }

    /// The channel and data of a received message; None for control messages,
    /// empty ones, and what does not decode.
    pub fn parse(&self, msg: &Message) -> Option<(u8, Vec<u8>)> {
        match msg {
            Message::Binary(b) if !b.is_empty() && !self.base64 => Some((b[0], b[1..].to_vec())),
            Message::Text(t) if self.base64 && !t.is_empty() => {
                let bytes = t.as_bytes();
                let channel = bytes[0].checked_sub(b'0')?;
                let data = base64::engine::general_purpose::STANDARD.decode(&bytes[1..]).ok()?;
                Some((channel, data))
            }
            // Some clients send binary frames on base64 protocols, or the reverse: take what is meant.
            Message::Binary(b) if !b.is_empty() => Some((b[0], b[1..].to_vec())),
            Message::Text(t) if !t.is_empty() => Some((t.as_bytes()[0], t.as_bytes()[1..].to_vec())),
            _ => None,
        }
    }
}

/// Parses the JSON terminal sizes (`{"Width":80,"Height":24}`) a resize
/// channel or stream carries, as they arrive in pieces.
#[derive(Default)]
pub struct ResizeParser {
    pending: Vec<u8>,
}

/// A terminal size as kubectl sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct TerminalSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

impl ResizeParser {
    /// Adds bytes; returns the sizes now complete. Malformed input is dropped
    /// (a bad resize must not end the session).
    pub fn push(&mut self, data: &[u8]) -> Vec<TerminalSize> {
        self.pending.extend_from_slice(data);
        let mut sizes = Vec::new();
        let mut iter = serde_json::Deserializer::from_slice(&self.pending).into_iter::<TerminalSize>();
        let mut used = 0;
        loop {
            match iter.next() {
                Some(Ok(size)) => {
                    sizes.push(size);
                    used = iter.byte_offset();
                }
                Some(Err(e)) if e.is_eof() => break,
                Some(Err(_)) => {
                    used = self.pending.len();
                    break;
                }
                None => {
                    used = self.pending.len();
                    break;
                }
            }
        }
        self.pending.drain(..used);
        sizes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_order_picks_the_protocol() {
        let offered = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let v4 = negotiate(&offered(&["v4.channel.k8s.io", "v5.channel.k8s.io"]), EXEC_PROTOCOLS).unwrap();
        assert_eq!(v4.name, "v4.channel.k8s.io");
        assert!(v4.status_json && !v4.close_signal);
        let v5 = negotiate(&offered(&["v5.channel.k8s.io"]), EXEC_PROTOCOLS).unwrap();
        assert!(v5.close_signal);
        assert_eq!(negotiate(&offered(&["SPDY/3.1+portforward.k8s.io"]), EXEC_PROTOCOLS), None);
        assert_eq!(negotiate(&offered(&["channel.k8s.io"]), PORT_FORWARD_PROTOCOLS), None);
        let none = negotiate(&[], EXEC_PROTOCOLS).unwrap();
        assert_eq!((none.name, none.base64, none.status_json), ("", false, false));
    }

    #[test]
    fn messages_carry_their_channel_first() {
        let binary = EXEC_PROTOCOLS[1];
        assert_eq!(binary.message(1, b"hi"), Message::binary(vec![1, b'h', b'i']));
        assert_eq!(binary.parse(&Message::binary(vec![0, b'x'])), Some((0, b"x".to_vec())));
        let b64 = EXEC_PROTOCOLS[2];
        assert_eq!(b64.message(2, b"hi"), Message::text("2aGk="));
        assert_eq!(b64.parse(&Message::text("0aGk=")), Some((0, b"hi".to_vec())));
        assert_eq!(b64.parse(&Message::text("0!!")), None);
        assert_eq!(binary.parse(&Message::binary(Vec::new())), None);
    }

    #[test]
    fn resizes_are_read_across_pieces_and_bad_ones_dropped() {
        let mut p = ResizeParser::default();
        assert_eq!(p.push(br#"{"Width":80,"#), vec![]);
        assert_eq!(
            p.push(b"\"Height\":24}\n{\"Width\":100,\"Height\":40}"),
            vec![TerminalSize { width: 80, height: 24 }, TerminalSize { width: 100, height: 40 }]
        );
        assert_eq!(p.push(b"nonsense"), vec![]);
        assert_eq!(p.push(br#"{"Width":1,"Height":2}"#), vec![TerminalSize { width: 1, height: 2 }]);
    }
}
