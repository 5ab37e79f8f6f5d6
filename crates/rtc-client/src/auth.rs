//! Resubmitting a challenged request with credentials (RFC 3261 §22.2).
//!
//! The CSeq of a resubmission is not this module's to choose: §22.2 asks to "increment the
//! CSeq header field value as it would normally when sending an updated request", and only
//! the request's owner knows what that is: a dialog's local sequence (§12.2.1.1), or the
//! sequence of the Call-ID out of dialog (§8.1.1.5). The owner allocates it (the presence cores'
//! `next_cseq`, [`Dialog::next_local_seq`](sip_txn::dialog::Dialog::next_local_seq)) and
//! passes it in, so that no later request of the dialog reuses it.

use sip_parse::{HeaderName, Message, MessageBuilder};
use sip_txn::digest::DigestClient;

use crate::{Error, Result};

/// Answers the 401/407 `response` to `request`: the same request with a new top Via (`via`),
/// CSeq number `cseq` from the request's owner (module docs), its old credentials dropped
/// and the new ones added. Fails when the credentials were already refused or none fit the
/// realm.
pub(crate) fn resubmit(
    digest: &mut DigestClient,
    request: &Message,
    response: &Message,
    via: &str,
    cseq: u32,
) -> Result<Message> {
    let auths = digest.authorize(request, response)?;
    let method = request.method().ok_or(Error::NotARequest)?;
    let uri = request.request_uri().ok_or(Error::NotARequest)?;
    let method_of_cseq = request.cseq()?.method;
    let mut b = MessageBuilder::request(method, uri).header("Via", via)?;
    let mut content_type = None;
    for h in request.headers() {
        match h.name {
            HeaderName::Via
            | HeaderName::CSeq
            | HeaderName::ContentLength
            | HeaderName::Authorization
            | HeaderName::ProxyAuthorization => {}
            HeaderName::ContentType => content_type = Some(h.value),
            _ => {
                let name = std::str::from_utf8(h.raw_name).map_err(|_| Error::NotARequest)?;
                let value = std::str::from_utf8(h.value).map_err(|_| Error::NotARequest)?;
                b = b.header(name, value)?;
            }
        }
    }
    b = b.header("CSeq", &format!("{cseq} {}", method_of_cseq.as_str()))?;
    for a in &auths {
        b = a.add_to(b)?;
    }
    if let Some(ct) = content_type {
        let ct = std::str::from_utf8(ct).map_err(|_| Error::NotARequest)?;
        b = b.body(ct, request.body_bytes())?;
    }
    Ok(Message::parse(b.build())?)
}

/// The CSeq number for resubmitting `request` when it is alone in its Call-ID (a MESSAGE
/// outside any dialog, RFC 3428 §4, has a Call-ID of its own): its Call-ID's sequence is its
/// own, so the next number is one above it.
pub(crate) fn next_in_own_call(request: &Message) -> Result<u32> {
    Ok(request.cseq()?.seq.wrapping_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sip_txn::digest::Credentials;

    #[test]
    fn resubmission_keeps_the_request_and_takes_the_owners_cseq() {
        let message = Message::parse(Bytes::from_static(
            b"MESSAGE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
              Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a\r\nTo: <sip:bob@example.test>\r\n\
              Call-ID: c1\r\nCSeq: 7 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
        ))
        .unwrap();
        let challenge =
            MessageBuilder::response_to(&message, 407, "Proxy Authentication Required", Some("p"))
                .unwrap()
                .header(
                    "Proxy-Authenticate",
                    r#"Digest realm="example.test", nonce="n", qop="auth""#,
                )
                .unwrap()
                .build();
        let challenge = Message::parse(challenge).unwrap();
        let mut digest = DigestClient::new(Credentials::new("alice", "pw"));
        let again = resubmit(
            &mut digest,
            &message,
            &challenge,
            "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2",
            12,
        )
        .unwrap();
        // The owner's number, whatever the challenged request carried.
        assert_eq!(again.cseq().unwrap().seq, 12);
        assert_eq!(again.cseq().unwrap().method.as_str(), "MESSAGE");
        assert_eq!(again.top_via().unwrap().branch(), Some("z9hG4bK2"));
        assert_eq!(again.body(), b"hi");
        assert_eq!(again.call_id().unwrap(), "c1");
        assert!(again.header(HeaderName::ProxyAuthorization).is_some());
        // A second challenge for the same realm means the password is wrong.
        assert!(
            resubmit(
                &mut digest,
                &again,
                &challenge,
                "SIP/2.0/UDP h;branch=z9hG4bK3",
                13,
            )
            .is_err()
        );
    }
}
