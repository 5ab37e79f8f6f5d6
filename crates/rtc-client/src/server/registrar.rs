//! The registrar (RFC 3261 §10.3) and the location service it fills: bindings of contact
//! addresses to the addresses-of-record of the domain, each with its own expiry.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sip_parse::{Contact, Message, SipUri, Target, Uri};

use super::ServerConfig;
use super::reply::Reply;

/// One contact bound to an AOR.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    /// The contact URI as registered.
    pub(crate) contact: String,
    /// Its `q` in thousandths, if given.
    pub(crate) q: Option<u16>,
    pub(crate) expires_at: Instant,
    /// When it was last registered (the tie-break between equal `q`).
    registered_at: Instant,
    call_id: String,
    cseq: u32,
    /// The peer the REGISTER came from when that was a stream (TCP/TLS): requests for this
    /// contact reuse that connection, since a UA behind a stream usually cannot accept new ones
    /// (the idea of RFC 5626 flows, without its headers).
    pub(crate) flow: Option<Target>,
    /// The device and flow the binding belongs to (`+sip.instance` and `reg-id`, RFC 5626
    /// §4.2): a REGISTER naming the same pair replaces it, whatever its Contact URI now (the
    /// device restarted on another port), instead of adding a second binding (§6).
    instance: Option<(String, u32)>,
}

impl Binding {
    fn remaining(&self, now: Instant) -> u32 {
        let secs = self.expires_at.saturating_duration_since(now).as_secs();
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    fn uri(&self) -> Option<SipUri<'_>> {
        match Uri::parse(&self.contact) {
            Ok(Uri::Sip(u)) => Some(u),
            _ => None,
        }
    }
}

/// A binding as the registrar would list it in a 200 (RFC 3261 §10.3 step 8).
///
/// ```
/// use rtc_client::server::BindingInfo;
/// let b = BindingInfo { contact: "sip:alice@192.0.2.1:5070".into(), expires: 300, q: Some(500) };
/// assert_eq!(b.to_string(), "<sip:alice@192.0.2.1:5070>;expires=300;q=0.5");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingInfo {
    /// The contact URI.
    pub contact: String,
    /// Seconds until it expires.
    pub expires: u32,
    /// `q` in thousandths, if the UA gave one.
    pub q: Option<u16>,
}

impl std::fmt::Display for BindingInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}>;expires={}", self.contact, self.expires)?;
        if let Some(q) = self.q {
            // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), §25.1.
            if q >= 1000 {
                f.write_str(";q=1")?;
            } else if q == 0 {
                f.write_str(";q=0")?;
            } else {
                let digits = format!("{q:03}");
                write!(f, ";q=0.{}", digits.trim_end_matches('0'))?;
            }
        }
        Ok(())
    }
}

/// The location service: live bindings per user of the domain. Users are configured, and each
/// has at most `max_contacts` bindings, so memory is bounded whatever peers send.
#[derive(Debug, Default)]
pub(crate) struct Location {
    bindings: HashMap<String, Vec<Binding>>,
}

/// A REGISTER's outcome, applied only once its server transaction is new (a retransmission
/// must not apply it twice).
#[derive(Debug)]
pub(crate) struct RegisterPlan {
    user: String,
    bindings: Vec<Binding>,
}

/// A binding being changed by one REGISTER.
struct Tentative {
    binding: Binding,
    touched: bool,
    removed: bool,
}

impl Location {
    fn live(&self, now: Instant, user: &str) -> impl Iterator<Item = &Binding> {
        self.bindings
            .get(user)
            .into_iter()
            .flatten()
            .filter(move |b| b.expires_at > now)
    }

    /// Drops expired bindings.
    pub(crate) fn purge(&mut self, now: Instant) {
        self.bindings.retain(|_, v| {
            v.retain(|b| b.expires_at > now);
            !v.is_empty()
        });
    }

    /// The live bindings of `user`, as a 200 lists them.
    pub(crate) fn list(&self, now: Instant, user: &str) -> Vec<BindingInfo> {
        self.live(now, user)
            .map(|b| BindingInfo {
                contact: b.contact.clone(),
                expires: b.remaining(now),
                q: b.q,
            })
            .collect()
    }

    /// The contact a request for `user` goes to: one target only (no forking), the highest
    /// `q` (absent counts as 1), then the most recently registered.
    pub(crate) fn best(&self, now: Instant, user: &str) -> Option<&Binding> {
        self.live(now, user)
            .max_by_key(|b| (b.q.unwrap_or(1000), b.registered_at))
    }

    /// The stream a request for contact `uri` must reuse, if that contact registered over one.
    pub(crate) fn flow_for(&self, now: Instant, uri: &SipUri<'_>) -> Option<Target> {
        self.bindings
            .values()
            .flatten()
            .filter(|b| b.expires_at > now && b.flow.is_some())
            .find(|b| b.uri().is_some_and(|u| u.equivalent(uri)))
            .and_then(|b| b.flow.clone())
    }

    /// Steps 6 and 7 of RFC 3261 §10.3 for `user`'s REGISTER (already authenticated and
    /// authorised): the new binding list, or the reply refusing the whole request (nothing is
    /// applied then: the update is atomic).
    pub(crate) fn plan(
        &self,
        now: Instant,
        config: &ServerConfig,
        request: &Message,
        user: &str,
        source: &Target,
    ) -> Result<RegisterPlan, Reply> {
        let contacts = request
            .contacts()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Reply::new(400, "Malformed Contact"))?;
        let header_expires = request
            .expires()
            .transpose()
            .map_err(|_| Reply::new(400, "Malformed Expires"))?;
        let call_id = request
            .call_id()
            .map_err(|_| Reply::new(400, "Malformed Call-ID"))?;
        let cseq = request
            .cseq()
            .map_err(|_| Reply::new(400, "Malformed CSeq"))?
            .seq;
        let mut list: Vec<Tentative> = self
            .live(now, user)
            .map(|b| Tentative {
                binding: b.clone(),
                touched: false,
                removed: false,
            })
            .collect();
        // §10.3 step 7: within one Call-ID, only a higher CSeq may change a binding; otherwise
        // "the update MUST be aborted and the request fails". 500 as for an out-of-order CSeq in
        // a dialog (§12.2.2); retransmissions never get here, the transaction absorbs them.
        let out_of_order =
            |t: &Tentative| !t.touched && t.binding.call_id == call_id && cseq <= t.binding.cseq;
        let stale_cseq = || Reply::new(500, "CSeq Out Of Order").header("Retry-After", "1");
        if contacts.iter().any(|c| matches!(c, Contact::Wildcard)) {
            // §10.3 step 6: `*` only alone and with Expires: 0.
            if contacts.len() != 1 || header_expires != Some(0) {
                return Err(Reply::new(400, "Invalid Wildcard Contact"));
            }
            if list.iter().any(out_of_order) {
                return Err(stale_cseq());
            }
            list.clear();
        }
        let flow = source.is_reliable().then(|| source.clone());
        for c in &contacts {
            let Contact::Address(a) = c else { continue };
            let Ok(Uri::Sip(uri)) = a.uri() else {
                return Err(Reply::new(400, "Unsupported Contact URI"));
            };
            let expires = match a.expires().or(header_expires) {
                Some(0) => 0,
                // §10.3 step 7: 423 with Min-Expires when below the minimum (and an hour).
                Some(e) if e < config.min_expires && e < 3600 => {
                    return Err(Reply::new(423, "Interval Too Brief")
                        .header("Min-Expires", config.min_expires.to_string()));
                }
                Some(e) => e.min(config.max_expires),
                None => config.default_expires.min(config.max_expires),
            };
            // RFC 5626 §6: the instance and reg-id name the binding when both are given.
            let instance = a
                .params()
                .get("+sip.instance")
                .flatten()
                .zip(a.params().get("reg-id").flatten())
                .and_then(|(i, r)| Some((i.trim_matches('"').to_owned(), r.parse::<u32>().ok()?)));
            let existing = list.iter_mut().find(|t| {
                !t.removed
                    && match (&instance, &t.binding.instance) {
                        (Some(ours), Some(theirs)) => ours == theirs,
                        _ => t.binding.uri().is_some_and(|u| u.equivalent(&uri)),
                    }
            });
            let fresh = Binding {
                contact: a.uri_str().to_owned(),
                q: a.q(),
                expires_at: now + Duration::from_secs(u64::from(expires)),
                registered_at: now,
                call_id: call_id.to_owned(),
                cseq,
                flow: flow.clone(),
                instance,
            };
            match existing {
                Some(t) if out_of_order(t) => return Err(stale_cseq()),
                Some(t) => {
                    t.binding = fresh;
                    t.touched = true;
                    t.removed = expires == 0;
                }
                None if expires == 0 => {}
                None => {
                    list.push(Tentative {
                        binding: fresh,
                        touched: true,
                        removed: false,
                    });
                    // Checked as the list grows so a REGISTER with many contacts stays linear
                    // in its size times the (small) limit.
                    if list.iter().filter(|t| !t.removed).count() > config.max_contacts {
                        return Err(Reply::new(403, "Too Many Contacts"));
                    }
                }
            }
        }
        Ok(RegisterPlan {
            user: user.to_owned(),
            bindings: list
                .into_iter()
                .filter(|t| !t.removed)
                .map(|t| t.binding)
                .collect(),
        })
    }

    /// Applies a plan and returns the 200 listing every current binding with its remaining
    /// expiry (§10.3 step 8).
    pub(crate) fn commit(&mut self, now: Instant, plan: RegisterPlan) -> Reply {
        if plan.bindings.is_empty() {
            self.bindings.remove(&plan.user);
        } else {
            self.bindings.insert(plan.user.clone(), plan.bindings);
        }
        self.list(now, &plan.user)
            .iter()
            .fold(Reply::new(200, "OK"), |r, b| {
                r.header("Contact", b.to_string())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalues_are_written_as_the_grammar_wants() {
        let b = |q| {
            BindingInfo {
                contact: "sip:a@h".into(),
                expires: 1,
                q,
            }
            .to_string()
        };
        assert_eq!(b(None), "<sip:a@h>;expires=1");
        assert_eq!(b(Some(1000)), "<sip:a@h>;expires=1;q=1");
        assert_eq!(b(Some(330)), "<sip:a@h>;expires=1;q=0.33");
        assert_eq!(b(Some(5)), "<sip:a@h>;expires=1;q=0.005");
        assert_eq!(b(Some(0)), "<sip:a@h>;expires=1;q=0");
    }
}
