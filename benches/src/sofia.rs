//! Sofia-SIP 1.12 (C, `libsofia-sip-ua`) as a [`FullParse`], through the shim in
//! `benches/sofia/shim.c` (cargo feature `sofia`; `build.rs` finds the library with pkg-config
//! and compiles the shim with the `cc` crate).
//!
//! A full parse is `msg_make` on a copy of the datagram, which parses every header Sofia knows,
//! then the same fields as the other parsers, read from Sofia's `sip_t`. The message is
//! destroyed when the [`SofiaMessage`] drops, inside the timed pass. Sofia allocates with
//! `malloc`, which the counting allocator does not see, so its rows print no allocation count.

// The one module of the benches that calls C: each `unsafe` block says why it holds.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use bytes::Bytes;

use crate::full_parse::{Failure, Fields, FullParse, UriRef};

/// The shim's `struct rtc_sofia_fields`.
#[repr(C)]
struct RawFields {
    branch: *const c_char,
    from_tag: *const c_char,
    to_tag: *const c_char,
    call_id: *const c_char,
    cseq_method: *const c_char,
    contact_url: *const c_void,
    body_len: usize,
    cseq_seq: u32,
}

impl RawFields {
    const EMPTY: Self = Self {
        branch: ptr::null(),
        from_tag: ptr::null(),
        to_tag: ptr::null(),
        call_id: ptr::null(),
        cseq_method: ptr::null(),
        contact_url: ptr::null(),
        body_len: 0,
        cseq_seq: 0,
    };
}

unsafe extern "C" {
    /// `msg_make` with Sofia's SIP parser; null when the message is refused.
    fn rtc_sofia_parse(data: *const c_void, len: usize) -> *mut c_void;
    /// `msg_destroy`.
    fn rtc_sofia_destroy(msg: *mut c_void);
    /// Fills `out` from the message's `sip_t`; non-zero names a missing header.
    fn rtc_sofia_fields(msg: *mut c_void, out: *mut RawFields) -> c_int;
    /// `url_e`: prints a URL, returns the length it needs (without the NUL) or -1.
    fn rtc_sofia_url_print(url: *const c_void, buf: *mut c_char, len: usize) -> isize;
}

/// Sofia-SIP 1.12, `msg_make` (C).
#[derive(Debug, Clone, Copy)]
pub struct Sofia;

/// A message Sofia made and parsed; destroyed on drop.
#[derive(Debug)]
pub struct SofiaMessage(NonNull<c_void>);

impl Drop for SofiaMessage {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `rtc_sofia_parse` and is destroyed once, here.
        unsafe { rtc_sofia_destroy(self.0.as_ptr()) }
    }
}

/// A URL Sofia parsed (its `url_t`), borrowed from its message.
#[derive(Debug, Clone, Copy)]
pub struct SofiaUrl<'a> {
    url: NonNull<c_void>,
    message: PhantomData<&'a SofiaMessage>,
}

impl SofiaUrl<'_> {
    /// The URL as Sofia prints it (`url_e`). For the field check, never in a timed pass.
    pub fn print(self) -> String {
        let mut buf = vec![0u8; 256];
        loop {
            // SAFETY: `url` points at a `url_t` inside a live message (the borrow's lifetime);
            // `url_e` writes at most `buf.len()` bytes into `buf`.
            let needed = unsafe {
                rtc_sofia_url_print(self.url.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            };
            let Ok(needed) = usize::try_from(needed) else {
                return String::from("<url_e failed>");
            };
            if needed < buf.len() {
                buf.truncate(needed);
                return String::from_utf8_lossy(&buf).into_owned();
            }
            buf.resize(needed + 1, 0);
        }
    }
}

/// A shim string as `&str`, borrowed from the message; `None` for a null pointer.
///
/// # Safety
///
/// `p` is null or a NUL-terminated string that lives as long as `'a`.
unsafe fn text<'a>(p: *const c_char) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null, NUL-terminated and alive for `'a`, as the caller promises.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|_| Failure::Other("Sofia-SIP: a field is not UTF-8"))
}

impl FullParse for Sofia {
    const NAME: &'static str = "sofia-sip";
    const COUNTS_ALLOCATIONS: bool = false;
    type Message = SofiaMessage;

    fn parse(buf: &Bytes) -> Result<Self::Message, Failure> {
        // SAFETY: `buf` is valid for `buf.len()` bytes; `msg_make` copies them.
        let msg = unsafe { rtc_sofia_parse(buf.as_ptr().cast(), buf.len()) };
        NonNull::new(msg)
            .map(SofiaMessage)
            .ok_or(Failure::Other("Sofia-SIP refused the message"))
    }

    fn extract<R>(msg: &Self::Message, f: impl FnOnce(Fields<'_>) -> R) -> Result<R, Failure> {
        let mut raw = RawFields::EMPTY;
        // SAFETY: `msg` is a live message; `raw` is a valid `struct rtc_sofia_fields`.
        let missing = unsafe { rtc_sofia_fields(msg.0.as_ptr(), &mut raw) };
        let header = match missing {
            0 => None,
            1 => Some("Via"),
            2 => Some("From"),
            3 => Some("To"),
            4 => Some("Call-ID"),
            _ => Some("CSeq"),
        };
        if let Some(header) = header {
            return Err(Failure::Missing(header));
        }
        // SAFETY (each `text`): the shim's strings are NUL-terminated and owned by the message,
        // which `msg` borrows for as long as `Fields` lives.
        let (branch, from_tag, to_tag, call_id, method) = unsafe {
            (
                text(raw.branch)?,
                text(raw.from_tag)?,
                text(raw.to_tag)?,
                text(raw.call_id)?,
                text(raw.cseq_method)?,
            )
        };
        Ok(f(Fields {
            branch,
            from_tag,
            to_tag,
            call_id: call_id.ok_or(Failure::Missing("Call-ID value"))?,
            cseq_seq: raw.cseq_seq,
            cseq_method: method.ok_or(Failure::Missing("CSeq method"))?,
            contact_uri: NonNull::new(raw.contact_url.cast_mut()).map(|url| {
                UriRef::Sofia(SofiaUrl {
                    url,
                    message: PhantomData,
                })
            }),
            body_len: raw.body_len,
        }))
    }
}
