//! Dialogs (RFC 3261 §12): their state, creation from a 2xx or a NOTIFY (RFC 6665 §4.1.2.4),
//! in-dialog requests (§12.2.1.1) and checks of incoming ones (§12.2.2).

use sip_parse::{HeaderName, Message, MessageBuilder, Method, NameAddr, Uri};

use crate::{Error, Result};

/// What identifies a dialog (§12): Call-ID and the two tags, seen from this side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID.
    pub call_id: String,
    /// This side's tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

impl DialogId {
    /// The id of the dialog an incoming request belongs to (local tag = To tag, §12.2.2).
    pub fn of_incoming_request(request: &Message) -> Result<Self> {
        Ok(Self {
            call_id: request.call_id()?.to_owned(),
            local_tag: request.to_header()?.tag().unwrap_or_default().to_owned(),
            remote_tag: request.from_header()?.tag().unwrap_or_default().to_owned(),
        })
    }

    /// The id of the dialog a response to our request belongs to (local tag = From tag).
    pub fn of_response(response: &Message) -> Result<Self> {
        Ok(Self {
            call_id: response.call_id()?.to_owned(),
            local_tag: response.from_header()?.tag().unwrap_or_default().to_owned(),
            remote_tag: response.to_header()?.tag().unwrap_or_default().to_owned(),
        })
    }
}

/// The state of one dialog (§12.1): ids, sequence numbers, URIs, route set, remote target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    id: DialogId,
    local_seq: Option<u32>,
    remote_seq: Option<u32>,
    local_uri: String,
    remote_uri: String,
    remote_target: String,
    route_set: Vec<String>,
    secure: bool,
}

/// Methods whose requests and 2xx refresh the remote target (§12.2, RFC 6665 §4.1.2, RFC 3311,
/// RFC 3515).
fn refreshes_target(m: Method<'_>) -> bool {
    matches!(
        m,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

fn tag_of(a: NameAddr<'_>, what: &'static str) -> Result<String> {
    a.tag().map(str::to_owned).ok_or(Error::NoDialog(what))
}

fn contact_uri(msg: &Message) -> Option<String> {
    msg.contacts()
        .next()?
        .ok()?
        .address()
        .map(|a| a.uri_str().to_owned())
}

fn record_route(msg: &Message) -> Result<Vec<String>> {
    // `Message::list` keeps the white space after each comma.
    msg.list(HeaderName::RecordRoute)
        .map(|h| {
            std::str::from_utf8(h.value)
                .map(|v| v.trim().to_owned())
                .map_err(|_| Error::NoDialog("Record-Route is not text"))
        })
        .collect()
}

fn is_sips(uri: Option<&str>) -> bool {
    uri.and_then(|u| u.as_bytes().get(..5))
        .is_some_and(|s| s.eq_ignore_ascii_case(b"sips:"))
}

impl Dialog {
    /// The UAC's dialog from a 2xx to its INVITE, SUBSCRIBE or REFER (§12.1.2): route set from
    /// the response's Record-Route **reversed**, remote target from its Contact, local CSeq from
    /// the response: it echoes the request the server saw, which may be a resubmission with
    /// credentials and a higher CSeq than the `request` the caller kept (§22.2).
    pub fn uac(request: &Message, response: &Message) -> Result<Self> {
        if !response.status().is_some_and(|c| (200..300).contains(&c)) {
            return Err(Error::NoDialog("only a 2xx creates a dialog here"));
        }
        let method = request.method().ok_or(Error::WrongMessageKind("request"))?;
        if !matches!(method, Method::Invite | Method::Subscribe | Method::Refer) {
            return Err(Error::NoDialog("the method creates no dialog"));
        }
        let mut route_set = record_route(response)?;
        route_set.reverse();
        Ok(Self {
            id: DialogId {
                call_id: request.call_id()?.to_owned(),
                local_tag: tag_of(request.from_header()?, "no From tag")?,
                remote_tag: tag_of(response.to_header()?, "no To tag in the response")?,
            },
            local_seq: Some(request.cseq()?.seq.max(response.cseq()?.seq)),
            remote_seq: None,
            local_uri: request.from_header()?.uri_str().to_owned(),
            remote_uri: request.to_header()?.uri_str().to_owned(),
            remote_target: contact_uri(response).ok_or(Error::NoDialog("no Contact"))?,
            route_set,
            secure: is_sips(request.request_uri()),
        })
    }

    /// The UAS's dialog for a request it answers with a 2xx tagged `local_tag` (§12.1.1): route
    /// set from the request's Record-Route in order, remote target from its Contact.
    pub fn uas(request: &Message, local_tag: &str) -> Result<Self> {
        Ok(Self {
            id: DialogId {
                call_id: request.call_id()?.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag: tag_of(request.from_header()?, "no From tag")?,
            },
            local_seq: None,
            remote_seq: Some(request.cseq()?.seq),
            local_uri: request.to_header()?.uri_str().to_owned(),
            remote_uri: request.from_header()?.uri_str().to_owned(),
            remote_target: contact_uri(request).ok_or(Error::NoDialog("no Contact"))?,
            route_set: record_route(request)?,
            secure: is_sips(request.request_uri()),
        })
    }

    /// The subscriber's dialog created by a NOTIFY for its SUBSCRIBE (RFC 6665 §4.1.2.4): the
    /// NOTIFY's To tag must be the SUBSCRIBE's From tag; the NOTIFY is a request received, so
    /// the route set is its Record-Route in order (§12.1.1).
    ///
    /// A NOTIFY without the Contact every target-refresh request must carry still creates the
    /// dialog (it came before the 2xx, which brings a Contact): the remote target is the
    /// SUBSCRIBE's Request-URI until then. If the SUBSCRIBE was resubmitted with a higher CSeq
    /// than `subscribe` carries, tell the dialog with [`Dialog::advance_local_seq`].
    pub fn from_notify(subscribe: &Message, notify: &Message) -> Result<Self> {
        if notify.method() != Some(Method::Notify) {
            return Err(Error::NoDialog("not a NOTIFY"));
        }
        let local_tag = tag_of(subscribe.from_header()?, "no From tag")?;
        if notify.call_id()? != subscribe.call_id()?
            || notify.to_header()?.tag() != Some(local_tag.as_str())
        {
            return Err(Error::DialogMismatch);
        }
        Ok(Self {
            id: DialogId {
                call_id: subscribe.call_id()?.to_owned(),
                local_tag,
                remote_tag: tag_of(notify.from_header()?, "no From tag in the NOTIFY")?,
            },
            local_seq: Some(subscribe.cseq()?.seq),
            remote_seq: Some(notify.cseq()?.seq),
            local_uri: subscribe.from_header()?.uri_str().to_owned(),
            remote_uri: subscribe.to_header()?.uri_str().to_owned(),
            remote_target: match contact_uri(notify) {
                Some(t) => t,
                None => subscribe
                    .request_uri()
                    .ok_or(Error::WrongMessageKind("request"))?
                    .to_owned(),
            },
            route_set: record_route(notify)?,
            secure: is_sips(subscribe.request_uri()),
        })
    }

    /// The dialog's id.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// The last CSeq number this side used.
    pub fn local_seq(&self) -> Option<u32> {
        self.local_seq
    }

    /// The highest CSeq number received from the peer.
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    /// Where in-dialog requests go (the peer's Contact).
    pub fn remote_target(&self) -> &str {
        &self.remote_target
    }

    /// The route set, each entry as written (`<sip:p1.example.com;lr>`), in sending order.
    pub fn route_set(&self) -> &[String] {
        &self.route_set
    }

    /// Whether the dialog was set up with a SIPS Request-URI (§12.1.1).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Whether `request` (received) belongs to this dialog.
    pub fn matches(&self, request: &Message) -> bool {
        DialogId::of_incoming_request(request).is_ok_and(|id| id == self.id)
    }

    /// Checks an incoming in-dialog request (§12.2.2): its ids, then its CSeq against the
    /// remote sequence number. A lower CSeq is [`Error::CSeqOutOfOrder`]: answer 500. On success
    /// the remote CSeq advances and a target refresh takes the new Contact.
    pub fn check_request(&mut self, request: &Message) -> Result<()> {
        if !self.matches(request) {
            return Err(Error::DialogMismatch);
        }
        let method = request.method().ok_or(Error::WrongMessageKind("request"))?;
        let seq = request.cseq()?.seq;
        // ACK and CANCEL reuse the CSeq number of the INVITE they refer to.
        let reuses = matches!(method, Method::Ack | Method::Cancel);
        // §12.2.2: lower is out of order; equal is a retransmission the transaction absorbs.
        if let Some(r) = self.remote_seq
            && seq < r
        {
            return Err(Error::CSeqOutOfOrder {
                got: seq,
                expected_above: r,
            });
        }
        if !reuses {
            self.remote_seq = Some(seq);
        }
        if refreshes_target(method)
            && let Some(t) = contact_uri(request)
        {
            self.remote_target = t;
        }
        Ok(())
    }

    /// Takes the new remote target from a 2xx to a target-refresh request of ours (§12.2.1.2).
    pub fn handle_response(&mut self, request_method: Method<'_>, response: &Message) {
        if refreshes_target(request_method)
            && response.status().is_some_and(|c| (200..300).contains(&c))
            && let Some(t) = contact_uri(response)
        {
            self.remote_target = t;
        }
    }

    /// Starts a new in-dialog request (§12.2.1.1) with the next local CSeq: `via` is the whole
    /// top Via value (with a fresh [`new_branch`](crate::new_branch)). Add Contact, body, … and
    /// build.
    pub fn request(&mut self, method: Method<'_>, via: &str) -> Result<MessageBuilder> {
        let seq = self.next_local_seq();
        self.request_with_cseq(method, seq, via)
    }

    /// Takes the next local CSeq number (§12.2.1.1: one higher than the last) for a request
    /// built elsewhere: a request resubmitted with credentials (§22.2) is a new request of the
    /// dialog and takes its number from here, so no later request reuses it.
    ///
    /// ```
    /// # use sip_parse::Message;
    /// # use sip_txn::dialog::Dialog;
    /// # let subscribe = Message::parse(bytes::Bytes::from_static(b"SUBSCRIBE sip:bob@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:alice@h>;tag=a\r\nTo: <sip:bob@h>\r\nCall-ID: c\r\nCSeq: 1 SUBSCRIBE\r\nContent-Length: 0\r\n\r\n"))?;
    /// # let ok = Message::parse(bytes::Bytes::from_static(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:alice@h>;tag=a\r\nTo: <sip:bob@h>;tag=b\r\nCall-ID: c\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:bob@192.0.2.2>\r\nContent-Length: 0\r\n\r\n"))?;
    /// let mut dialog = Dialog::uac(&subscribe, &ok)?;
    /// let refresh = dialog.request(sip_parse::Method::Subscribe, "SIP/2.0/UDP a;branch=z9hG4bK2")?;
    /// # let _ = refresh;
    /// // The refresh (CSeq 2) is challenged: its resubmission takes 3, the next request 4.
    /// assert_eq!(dialog.next_local_seq(), 3);
    /// assert_eq!(dialog.next_local_seq(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_local_seq(&mut self) -> u32 {
        let seq = self.local_seq.map_or(1, |s| s.wrapping_add(1));
        self.local_seq = Some(seq);
        seq
    }

    /// Records that this side already used CSeq `seq` in the dialog, e.g. in a resubmission
    /// (§22.2) of the request that created it, sent before the dialog existed: later requests
    /// go above it. A lower number changes nothing.
    pub fn advance_local_seq(&mut self, seq: u32) {
        if self.local_seq.is_none_or(|s| s < seq) {
            self.local_seq = Some(seq);
        }
    }

    /// The ACK for a 2xx to the INVITE with CSeq number `invite_seq` (§13.2.2.4).
    pub fn ack(&self, invite_seq: u32, via: &str) -> Result<MessageBuilder> {
        self.request_with_cseq(Method::Ack, invite_seq, via)
    }

    fn request_with_cseq(&self, method: Method<'_>, seq: u32, via: &str) -> Result<MessageBuilder> {
        let (uri, routes) = self.request_uri_and_routes()?;
        let mut b = MessageBuilder::request(method, &uri).header("Via", via)?;
        for r in &routes {
            b = b.header("Route", r)?;
        }
        Ok(b.header("Max-Forwards", "70")?
            .header(
                "To",
                &format!("<{}>;tag={}", self.remote_uri, self.id.remote_tag),
            )?
            .header(
                "From",
                &format!("<{}>;tag={}", self.local_uri, self.id.local_tag),
            )?
            .header("Call-ID", &self.id.call_id)?
            .header("CSeq", &format!("{seq} {method}"))?)
    }

    /// §12.2.1.1: loose routing keeps the remote target as Request-URI and sends the whole route
    /// set; a strict first route becomes the Request-URI and the remote target goes last.
    fn request_uri_and_routes(&self) -> Result<(String, Vec<String>)> {
        let Some(first) = self.route_set.first() else {
            return Ok((self.remote_target.clone(), Vec::new()));
        };
        let first_addr = NameAddr::parse(first.as_bytes())?;
        let first_uri = first_addr.uri()?;
        let loose = match &first_uri {
            Uri::Sip(u) => u.param("lr").is_some(),
            _ => false,
        };
        if loose {
            return Ok((self.remote_target.clone(), self.route_set.clone()));
        }
        // Header components are not allowed in a Request-URI (§19.1.1, Table 1).
        let uri = match first_uri {
            Uri::Sip(mut u) => {
                u.headers = None;
                u.to_string()
            }
            other => other.to_string(),
        };
        let mut routes: Vec<String> = self.route_set.iter().skip(1).cloned().collect();
        routes.push(format!("<{}>", self.remote_target));
        Ok((uri, routes))
    }
}
