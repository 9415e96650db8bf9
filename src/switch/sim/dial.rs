//! Dial strings as FreeSWITCH's endpoints read them: which number is being
//! called and what the new channel will be named.

use crate::switch::HangupCause;

/// The endpoint a dial string reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `loopback`, `sofia`, `user`.
    pub tech: String,
    /// The number the callee is reached at; scenario rules match on it.
    pub number: String,
    /// `Channel-Name` once the channel exists (`loopback/1001-a`,
    /// `sofia/external/15551001`).
    pub channel_name: String,
    /// The name the first CODEC events carry, before mod_loopback renames
    /// the channel (`loopback/1001/customers-a`).
    pub early_name: String,
    pub context: String,
    pub dialplan: String,
    /// `Caller-Source`.
    pub source: String,
    /// FreeSWITCH fills the originated profile's callee number with the last
    /// path segment of the dial string (`customers` for
    /// `loopback/1001/customers`).
    pub callee_number: String,
    pub is_loopback: bool,
}

/// Reads a dial string; the error is the cause FreeSWITCH's originate gives
/// for it (`-ERR <cause>`), with no channel created.
pub fn parse_dial_string(dial: &str) -> Result<Endpoint, HangupCause> {
    // Per-leg [vars] in front of the endpoint and further endpoints (`,`
    // simultaneous, `|` failover) are accepted; the first endpoint is dialled.
    let mut d = dial.trim();
    if let Some(rest) = d.strip_prefix('[') {
        d = rest.split_once(']').map(|(_, r)| r).unwrap_or("");
    }
    let d = d.split([',', '|']).next().unwrap_or("").trim();
    if d.is_empty() {
        return Err(HangupCause::InvalidUrl);
    }
    let (tech, rest) = match d.split_once('/') {
        Some((t, r)) => (t, r),
        None => return Err(HangupCause::ChanNotImplemented),
    };
    let last_segment = rest.rsplit('/').next().unwrap_or(rest).to_string();
    match tech {
        "loopback" => {
            let mut parts = rest.splitn(3, '/');
            let exten = parts.next().unwrap_or("");
            if exten.is_empty() {
                return Err(HangupCause::NoRouteDestination);
            }
            let context = parts.next().filter(|c| !c.is_empty()).unwrap_or("default");
            let dialplan = parts.next().filter(|c| !c.is_empty()).unwrap_or("xml");
            Ok(Endpoint {
                tech: tech.into(),
                number: exten.into(),
                channel_name: format!("loopback/{exten}-a"),
                early_name: format!("loopback/{rest}-a"),
                context: context.into(),
                dialplan: dialplan.into(),
                source: "mod_loopback".into(),
                callee_number: last_segment,
                is_loopback: true,
            })
        }
        "sofia" => {
            let (profile, target) = rest.split_once('/').ok_or(HangupCause::InvalidUrl)?;
            if profile.is_empty() || target.is_empty() {
                return Err(HangupCause::InvalidUrl);
            }
            let (number, name) = if profile == "gateway" {
                let (_gw, number) = target.split_once('/').ok_or(HangupCause::InvalidUrl)?;
                if number.is_empty() {
                    return Err(HangupCause::InvalidUrl);
                }
                // A gateway's calls are named after the gateway's SIP profile;
                // the vanilla configuration keeps gateways in "external".
                let number = number.split('@').next().unwrap_or(number);
                (number.to_string(), format!("sofia/external/{number}"))
            } else {
                let user = target.split('@').next().unwrap_or(target);
                let user = user.strip_prefix("sip:").unwrap_or(user);
                (user.to_string(), format!("sofia/{profile}/{target}"))
            };
            Ok(Endpoint {
                tech: tech.into(),
                early_name: name.clone(),
                channel_name: name,
                callee_number: number.clone(),
                number,
                context: "default".into(),
                dialplan: "XML".into(),
                source: "mod_sofia".into(),
                is_loopback: false,
            })
        }
        "user" => {
            let (user, domain) = rest.split_once('@').unwrap_or((rest, "127.0.0.1"));
            if user.is_empty() {
                return Err(HangupCause::InvalidUrl);
            }
            let name = format!("sofia/internal/{user}@{domain}");
            Ok(Endpoint {
                tech: tech.into(),
                number: user.into(),
                early_name: name.clone(),
                channel_name: name,
                context: "default".into(),
                dialplan: "XML".into(),
                source: "mod_sofia".into(),
                callee_number: user.into(),
                is_loopback: false,
            })
        }
        // error/user_busy: FreeSWITCH's own way to fail a leg on purpose.
        "error" => Err(HangupCause::from_name(&rest.to_ascii_uppercase())),
        _ => Err(HangupCause::ChanNotImplemented),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = parse_dial_string("loopback/1001/customers").expect("loopback");
        assert_eq!(e.number, "1001");
        assert_eq!(e.channel_name, "loopback/1001-a");
        assert_eq!(e.early_name, "loopback/1001/customers-a");
        assert_eq!(e.context, "customers");
        assert_eq!(e.callee_number, "customers");
        let g = parse_dial_string("sofia/gateway/gw1/+15551001").expect("gateway");
        assert_eq!(g.number, "+15551001");
        assert_eq!(g.channel_name, "sofia/external/+15551001");
        let p = parse_dial_string("[leg_timeout=5]sofia/dialer/1001@127.0.0.1:5090,user/9")
            .expect("profile");
        assert_eq!(p.number, "1001");
        assert_eq!(p.channel_name, "sofia/dialer/1001@127.0.0.1:5090");
        assert_eq!(parse_dial_string("user/8001").map(|e| e.number), Ok("8001".into()));
    }

    #[test]
    fn refusals_carry_freeswitch_causes() {
        assert_eq!(
            parse_dial_string("15551001"),
            Err(HangupCause::ChanNotImplemented)
        );
        assert_eq!(
            parse_dial_string("pigeon/15551001"),
            Err(HangupCause::ChanNotImplemented)
        );
        assert_eq!(parse_dial_string("sofia/gateway/gw"), Err(HangupCause::InvalidUrl));
        assert_eq!(parse_dial_string("sofia/internal"), Err(HangupCause::InvalidUrl));
        assert_eq!(parse_dial_string(""), Err(HangupCause::InvalidUrl));
        assert_eq!(
            parse_dial_string("error/user_busy"),
            Err(HangupCause::UserBusy)
        );
    }
}
