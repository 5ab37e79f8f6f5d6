//! What the application hears of our presence publication at the server (RFC 3903): a PUBLISH
//! that failed, and the publication standing again after one, as [`Event::Publication`].
//!
//! The publisher core handles what needs no one: a challenge (401/407), an entity-tag the
//! server lost (412: published afresh), a too short Expires (423: asked again with
//! Min-Expires). A server without a presence service (405, 489, 501) means the client is its
//! own presence agent, as with a plain registrar; it stops publishing, silently. Any other
//! failure, a final response or none at all (a timeout, a transport error), is reported once,
//! and tried again with backoff; once a PUBLISH succeeds after it, `published` is reported. A
//! publication that never failed reports nothing.

use presence::Failure;
use presence::publisher::PublisherEvent;
use sip_transport::Cause;

use crate::Event;

/// The last state reported, to report changes only.
#[derive(Debug, Default)]
pub(crate) struct Publication {
    reported: Option<String>,
}

impl Publication {
    /// The application's news in the publisher's event `e`, if any; `transport` is why the
    /// PUBLISH just reported failed, when the transport said (a timeout says nothing).
    pub(crate) fn event(&mut self, e: &PublisherEvent, transport: Option<Cause>) -> Option<Event> {
        let (state, status, cause) = match *e {
            PublisherEvent::Failed {
                failure: Failure::Status(405 | 489 | 501),
                ..
            } => return None,
            PublisherEvent::Failed {
                failure: Failure::Status(code),
                ..
            } => (
                format!("retrying later (PUBLISH {})", Failure::Status(code)),
                Some(code),
                None,
            ),
            PublisherEvent::Failed {
                failure: Failure::NoResponse,
                ..
            } => {
                let words = match transport {
                    Some(c) => format!("retrying later (PUBLISH {}: {c})", Failure::NoResponse),
                    None => format!("retrying later (PUBLISH {})", Failure::NoResponse),
                };
                (words, None, Some(transport.unwrap_or(Cause::TimedOut)))
            }
            PublisherEvent::Published { .. } if self.reported.is_some() => {
                ("published".to_owned(), None, None)
            }
            PublisherEvent::Published { .. } | PublisherEvent::Removed => return None,
        };
        if self.reported.as_ref() == Some(&state) {
            return None;
        }
        self.reported = Some(state.clone());
        Some(Event::Publication {
            state,
            status,
            cause,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn failed(failure: Failure) -> PublisherEvent {
        #[allow(clippy::disallowed_methods, reason = "any instant will do")]
        let retry_at = Instant::now();
        PublisherEvent::Failed { failure, retry_at }
    }

    fn published() -> PublisherEvent {
        #[allow(clippy::disallowed_methods, reason = "any instant will do")]
        let expires_at = Instant::now();
        PublisherEvent::Published { expires_at }
    }

    #[test]
    fn failures_are_reported_once_each_and_the_recovery_after_them() {
        let mut p = Publication::default();
        assert_eq!(p.event(&published(), None), None, "nothing failed yet");
        let forbidden = Some(Event::Publication {
            state: "retrying later (PUBLISH answered 403 Forbidden)".into(),
            status: Some(403),
            cause: None,
        });
        assert_eq!(p.event(&failed(Failure::Status(403)), None), forbidden);
        assert_eq!(
            p.event(&failed(Failure::Status(403)), None),
            None,
            "the same"
        );
        assert_eq!(
            p.event(&failed(Failure::NoResponse), Some(Cause::Refused)),
            Some(Event::Publication {
                state: "retrying later (PUBLISH unanswered: connection refused)".into(),
                status: None,
                cause: Some(Cause::Refused),
            })
        );
        let back = Some(Event::Publication {
            state: "published".into(),
            status: None,
            cause: None,
        });
        assert_eq!(p.event(&published(), None), back);
        assert_eq!(p.event(&published(), None), None, "refreshes say nothing");
        assert_eq!(
            p.event(&failed(Failure::NoResponse), None),
            Some(Event::Publication {
                state: "retrying later (PUBLISH unanswered)".into(),
                status: None,
                cause: Some(Cause::TimedOut),
            })
        );
    }

    #[test]
    fn a_server_without_presence_is_no_failure_to_report() {
        let mut p = Publication::default();
        for code in [405, 489, 501] {
            assert_eq!(p.event(&failed(Failure::Status(code)), None), None);
        }
        assert_eq!(p.event(&PublisherEvent::Removed, None), None);
        assert_eq!(p.event(&published(), None), None);
    }
}
