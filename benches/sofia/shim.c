/*
 * The Sofia-SIP row of the parser benches (`benches::sofia`, cargo feature `sofia`): one full
 * parse of a datagram with Sofia-SIP's `msg_make`, and the fields the benches compare, read
 * from the `sip_t` it fills in. Sofia parses every known header when the message is made
 * (`msg_extract`), so reading a field here is a pointer load.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/url.h>

/* The fields of a full parse; strings are NUL-terminated and live as long as the message. */
struct rtc_sofia_fields {
    const char *branch;
    const char *from_tag;
    const char *to_tag;
    const char *call_id;
    const char *cseq_method;
    const url_t *contact_url;
    size_t body_len;
    uint32_t cseq_seq;
};

/* What `rtc_sofia_fields` found missing: 0 when every field a full parse needs is there. */
enum {
    RTC_SOFIA_OK = 0,
    RTC_SOFIA_NO_VIA = 1,
    RTC_SOFIA_NO_FROM = 2,
    RTC_SOFIA_NO_TO = 3,
    RTC_SOFIA_NO_CALL_ID = 4,
    RTC_SOFIA_NO_CSEQ = 5,
};

/* Parses one datagram; NULL when Sofia could not make a message or flagged it as erroneous. */
msg_t *rtc_sofia_parse(const void *data, size_t len)
{
    msg_t *msg;

    if (len == 0)
        return NULL;
    msg = msg_make(sip_default_mclass(), 0, data, (ssize_t)len);
    if (msg == NULL)
        return NULL;
    if (msg_has_error(msg) || sip_object(msg) == NULL) {
        msg_destroy(msg);
        return NULL;
    }
    return msg;
}

void rtc_sofia_destroy(msg_t *msg)
{
    msg_destroy(msg);
}

int rtc_sofia_fields(msg_t *msg, struct rtc_sofia_fields *out)
{
    sip_t const *sip = sip_object(msg);

    if (sip->sip_via == NULL)
        return RTC_SOFIA_NO_VIA;
    if (sip->sip_from == NULL)
        return RTC_SOFIA_NO_FROM;
    if (sip->sip_to == NULL)
        return RTC_SOFIA_NO_TO;
    if (sip->sip_call_id == NULL)
        return RTC_SOFIA_NO_CALL_ID;
    if (sip->sip_cseq == NULL)
        return RTC_SOFIA_NO_CSEQ;
    out->branch = sip->sip_via->v_branch;
    out->from_tag = sip->sip_from->a_tag;
    out->to_tag = sip->sip_to->a_tag;
    out->call_id = sip->sip_call_id->i_id;
    out->cseq_seq = sip->sip_cseq->cs_seq;
    out->cseq_method = sip->sip_cseq->cs_method_name;
    out->contact_url = sip->sip_contact ? sip->sip_contact->m_url : NULL;
    out->body_len = sip->sip_payload ? sip->sip_payload->pl_len : 0;
    return RTC_SOFIA_OK;
}

/* Prints a URL into `buf` (at most `len` bytes, NUL included); returns the length it needs,
 * without the NUL, or -1. Only the field check uses it, never a timed pass. */
ptrdiff_t rtc_sofia_url_print(const url_t *url, char *buf, size_t len)
{
    return url_e(buf, (isize_t)len, url);
}
