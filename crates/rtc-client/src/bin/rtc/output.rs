//! What the subcommands print: events as one line each, and text from files or peers made safe
//! for one line.

use std::fmt::Write;

use rtc_client::Event;

/// One line describing `event`, as `rtc demo` and `rtc login` print it. Text that came from a
/// peer (URIs, notes, messages) passes through [`one_line`].
pub(crate) fn describe(event: &Event) -> String {
    match event {
        Event::Registration {
            state,
            status,
            reason,
            cause,
            ..
        } => {
            // The kind of failure, where the words do not already say it (a DNS failure's
            // reason names the server; its cause says "no such name in DNS").
            let reason = match cause {
                Some(c) if !reason.contains(&c.to_string()) => format!("{reason}; {c}"),
                _ => reason.clone(),
            };
            match status {
                Some(code) => format!("registration: {state} ({code} {})", one_line(&reason)),
                // No response behind it (a timeout, a transport error): the reason still says why.
                None if !reason.is_empty() && reason != state.to_string() => {
                    format!("registration: {state} ({})", one_line(&reason))
                }
                None => format!("registration: {state}"),
            }
        }
        Event::Buddy { uri, status, note } => match note {
            Some(n) => format!("buddy {} is {status}: {}", one_line(uri), one_line(n)),
            None => format!("buddy {} is {status}", one_line(uri)),
        },
        Event::BuddySubscription { uri, state, .. } => {
            format!("watching {}: {}", one_line(uri), one_line(state))
        }
        Event::Publication { state, .. } => format!("publication: {}", one_line(state)),
        Event::Watcher { uri, state, .. } => format!("watcher {}: {state}", one_line(uri)),
        Event::Message { from, text, .. } => {
            format!("message from {}: {}", one_line(from), one_line(text))
        }
        Event::Typing { from, active } => format!(
            "{} {}",
            one_line(from),
            if *active {
                "is typing…"
            } else {
                "stopped typing"
            }
        ),
        Event::Invite { id, from, .. } => format!("invite {id} from {}", one_line(from)),
        Event::InviteCancelled { id } => format!("invite {id} cancelled"),
        Event::Lagged { dropped } => format!("lagged: {dropped} events dropped"),
        Event::SessionProgress { id, status, reason } => {
            format!("call {id}: {status} {}", one_line(reason))
        }
        Event::SessionAnswered { id, .. } => format!("call {id} answered"),
        Event::SessionConfirmed { id } => format!("call {id} acknowledged"),
        Event::SessionFailed { id, status, reason } => {
            format!("call {id} failed: {status} {}", one_line(reason))
        }
        Event::SessionEnded { id, reason } => format!("call {id} ended: {reason}"),
        // `Event` may grow; its Rust spelling is no words for a person.
        _ => "something this version of rtc cannot describe happened".to_owned(),
    }
}

/// Keeps `s` on one line with tab-separated fields intact: backslash, tab, CR and LF become
/// `\\`, `\t`, `\r`, `\n`, and every other control character (C0, DEL, C1), the bidi
/// controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and the line and paragraph
/// separators (U+2028, U+2029) `\u{…}`, so a hostile peer or file can neither forge lines,
/// nor send terminal escapes, nor reorder what a terminal shows (the "Trojan Source" trick).
/// Every subcommand prints peer- or file-supplied text through this one function.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || is_bidi_or_separator(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters that change the display order of text or break a line without being controls.
fn is_bidi_or_separator(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_escapes_what_could_break_a_line() {
        assert_eq!(one_line("a\tb\nc\r\\d"), "a\\tb\\nc\\r\\\\d");
        assert_eq!(one_line("\u{1b}[2J\u{85}é…"), "\\u{1b}[2J\\u{85}é…");
    }

    #[test]
    fn registration_changes_say_why_with_or_without_a_status() {
        let event = |status, reason: &str| Event::Registration {
            profile: "p".into(),
            state: rtc_client::RegistrationState::Error,
            status,
            reason: reason.into(),
            cause: None,
        };
        assert_eq!(
            describe(&event(None, "no answer from the registrar")),
            "registration: error (no answer from the registrar)"
        );
        assert_eq!(
            describe(&event(Some(503), "Service Unavailable")),
            "registration: error (503 Service Unavailable)"
        );
        assert_eq!(describe(&event(None, "")), "registration: error");
    }

    #[test]
    fn a_registration_failure_names_its_cause_once() {
        use rtc_client::Cause;
        let event = |reason: &str, cause| Event::Registration {
            profile: "p".into(),
            state: rtc_client::RegistrationState::Error,
            status: None,
            reason: reason.into(),
            cause: Some(cause),
        };
        assert_eq!(
            describe(&event(
                "DNS lookup of nowhere.test failed: no such name: nowhere.test",
                Cause::DnsNoSuchName
            )),
            "registration: error (DNS lookup of nowhere.test failed: no such name: nowhere.test; \
             no such name in DNS)"
        );
        let tls = Cause::TlsUnknownCa.to_string();
        assert_eq!(
            describe(&event(&tls, Cause::TlsUnknownCa)),
            format!("registration: error ({tls})")
        );
        // Words from the network stay on one line.
        assert_eq!(
            describe(&event("evil\nline", Cause::Refused)),
            "registration: error (evil\\nline; connection refused)"
        );
    }

    #[test]
    fn a_failed_publication_says_why() {
        let line = describe(&Event::Publication {
            state: "retrying later (PUBLISH unanswered: connection refused)".into(),
            status: None,
            cause: Some(rtc_client::Cause::Refused),
        });
        assert_eq!(
            line,
            "publication: retrying later (PUBLISH unanswered: connection refused)"
        );
    }

    #[test]
    fn a_watcher_state_is_a_word() {
        let line = describe(&Event::Watcher {
            uri: "sip:eve@example.test".into(),
            name: None,
            state: rtc_client::WatcherState::Offering,
        });
        assert_eq!(line, "watcher sip:eve@example.test: offering");
    }

    #[test]
    fn each_class_of_dangerous_character_is_escaped() {
        // C0 (and DEL), C1, bidi embeddings/overrides, isolates, marks, separators.
        for (c, escaped) in [
            ('\u{0}', "\\u{0}"),
            ('\u{7}', "\\u{7}"),
            ('\u{7f}', "\\u{7f}"),
            ('\u{9b}', "\\u{9b}"),
            ('\u{202a}', "\\u{202a}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{61c}', "\\u{61c}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
        ] {
            assert_eq!(one_line(&format!("a{c}b")), format!("a{escaped}b"), "{c:?}");
        }
        // Ordinary non-ASCII text, right-to-left scripts included, is left alone.
        assert_eq!(one_line("Grüße שלום 你好 ‐"), "Grüße שלום 你好 ‐");
    }

    #[test]
    fn a_note_with_an_override_cannot_reorder_the_line() {
        let line = describe(&Event::Buddy {
            uri: "sip:eve@example.test\u{2066}".into(),
            status: rtc_client::Status::Online,
            note: Some("\u{202e}gnp.exe\u{2029}buddy x is online".into()),
        });
        assert!(!line.chars().any(is_bidi_or_separator), "{line}");
        assert!(line.contains("\\u{202e}gnp.exe\\u{2029}buddy"), "{line}");
    }

    #[test]
    fn session_events_are_words() {
        use rtc_client::SessionEnd;
        let lines: Vec<String> = [
            Event::Invite {
                id: 1,
                from: "sip:bob@example.test".into(),
                sdp: None,
            },
            Event::InviteCancelled { id: 1 },
            Event::SessionProgress {
                id: 2,
                status: 180,
                reason: "Ringing".into(),
            },
            Event::SessionAnswered { id: 2, sdp: None },
            Event::SessionConfirmed { id: 3 },
            Event::SessionFailed {
                id: 4,
                status: 486,
                reason: "Busy Here\r\nx".into(),
            },
            Event::SessionEnded {
                id: 2,
                reason: SessionEnd::PeerHungUp,
            },
            Event::SessionEnded {
                id: 3,
                reason: SessionEnd::NoAck,
            },
        ]
        .iter()
        .map(describe)
        .collect();
        assert_eq!(
            lines,
            [
                "invite 1 from sip:bob@example.test",
                "invite 1 cancelled",
                "call 2: 180 Ringing",
                "call 2 answered",
                "call 3 acknowledged",
                "call 4 failed: 486 Busy Here\\r\\nx",
                "call 2 ended: hung up by the peer",
                "call 3 ended: never acknowledged by the caller, hung up",
            ]
        );
    }

    #[test]
    fn a_message_with_newlines_is_one_line() {
        let line = describe(&Event::Message {
            from: "sip:eve@example.test".into(),
            name: None,
            content_type: "text/plain".into(),
            text: "hi\nregistration: logged off".into(),
        });
        assert_eq!(
            line,
            "message from sip:eve@example.test: hi\\nregistration: logged off"
        );
    }
}
