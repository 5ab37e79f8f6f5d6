//! [`Profile`] back to provisioning XML.
//!
//! The output is canonical: attributes in schema order, enumerations in the schema's
//! spelling, the user URI with its scheme, `data` exactly as it was read. Parsing it gives back
//! an equal profile.

use std::fmt::Write;

use crate::model::{Data, Profile};

/// Escapes an attribute value for a double-quoted attribute. Tab, CR and LF become character
/// references so that attribute-value normalization (XML 1.0 §3.3.3) keeps them.
fn escape_attr(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn attr(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        escape_attr(out, value);
        out.push('"');
    }
}

fn data(out: &mut String, data: &Data) {
    out.push_str("    <data");
    out.push_str(&data.attributes);
    out.push('>');
    out.push_str(&data.content);
    out.push_str("</data>\n");
}

/// Writes `profile` as a provisioning document (it includes the password, if any).
pub(crate) fn to_xml(profile: &Profile) -> String {
    let mut out = String::with_capacity(512);
    let expires = profile.expires.map(|e| e.to_string());
    out.push_str("<provision");
    attr(&mut out, "key", Some(&profile.key));
    attr(&mut out, "name", Some(&profile.name));
    attr(&mut out, "expires", expires.as_deref());
    out.push_str(">\n");

    if let Some(ac) = &profile.access_control {
        out.push_str("  <accesscontrol");
        attr(&mut out, "domain", Some(&ac.domain));
        attr(&mut out, "sig", Some(&ac.sig));
        out.push_str("/>\n");
    }

    let user = &profile.user;
    out.push_str("  <user");
    attr(&mut out, "uri", Some(&user.uri.to_string()));
    attr(&mut out, "account", user.account.as_deref());
    attr(&mut out, "name", user.name.as_deref());
    attr(
        &mut out,
        "password",
        user.password.as_ref().map(|p| p.expose()),
    );
    attr(&mut out, "realm", user.realm.as_deref());
    out.push_str("/>\n");

    for server in &profile.servers {
        out.push_str("  <sipsrv");
        attr(&mut out, "addr", Some(&server.addr.to_string()));
        attr(&mut out, "protocol", Some(server.protocol.as_str()));
        attr(&mut out, "auth", server.auth.map(|a| a.as_str()));
        attr(&mut out, "role", Some(server.role.as_str()));
        if server.sessions.is_empty() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        for session in &server.sessions {
            let _ = writeln!(
                out,
                "    <session party=\"{}\" type=\"{}\"/>",
                session.party, session.session_type
            );
        }
        out.push_str("  </sipsrv>\n");
    }

    if let Some(client) = &profile.client {
        let flag = |b: Option<bool>| b.map(|b| if b { "1" } else { "0" });
        let minver = client.min_version.map(|v| v.to_string());
        let curver = client.current_version.map(|v| v.to_string());
        out.push_str("  <client");
        attr(&mut out, "name", Some(&client.name));
        attr(&mut out, "banner", flag(client.banner));
        attr(&mut out, "updates", flag(client.updates));
        attr(&mut out, "minver", minver.as_deref());
        attr(&mut out, "curver", curver.as_deref());
        attr(
            &mut out,
            "updateuri",
            client.update_uri.as_ref().map(|u| u.as_str()),
        );
        match &client.data {
            None => out.push_str("/>\n"),
            Some(d) => {
                out.push_str(">\n");
                data(&mut out, d);
                out.push_str("  </client>\n");
            }
        }
    }

    if let Some(provider) = &profile.provider {
        let uri = |u: &Option<crate::Uri>| u.as_ref().map(|u| u.as_str().to_owned());
        out.push_str("  <provider");
        attr(&mut out, "name", provider.name.as_deref());
        attr(&mut out, "homepage", uri(&provider.homepage).as_deref());
        attr(&mut out, "helpdesk", uri(&provider.helpdesk).as_deref());
        attr(&mut out, "personal", uri(&provider.personal).as_deref());
        attr(
            &mut out,
            "calldisplay",
            uri(&provider.call_display).as_deref(),
        );
        attr(
            &mut out,
            "idledisplay",
            uri(&provider.idle_display).as_deref(),
        );
        match &provider.data {
            None => out.push_str("/>\n"),
            Some(d) => {
                out.push_str(">\n");
                data(&mut out, d);
                out.push_str("  </provider>\n");
            }
        }
    }

    out.push_str("</provision>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_escaping_survives_normalization() {
        let mut out = String::new();
        escape_attr(&mut out, "a&b<c>\"d\te\nf\rg'");
        assert_eq!(out, "a&amp;b&lt;c&gt;&quot;d&#9;e&#10;f&#13;g'");
    }
}
