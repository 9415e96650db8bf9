//! Hang-up causes, typed from the names FreeSWITCH uses and the Q.850
//! numbers Asterisk sends, so both switches end in the same values.

use serde::{Serialize, Serializer};
use std::fmt;

macro_rules! causes {
    ($($variant:ident = $name:literal, $q850:literal;)*) => {
        /// Why a call ended (or never started).
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum HangupCause {
            $($variant,)*
            /// A cause this version does not name, kept as the switch said it.
            Other(String),
        }

        impl HangupCause {
            /// From FreeSWITCH's cause name (`USER_BUSY`).
            pub fn from_name(name: &str) -> HangupCause {
                match name {
                    $($name => HangupCause::$variant,)*
                    other => HangupCause::Other(other.to_string()),
                }
            }

            /// From a Q.850 cause number (Asterisk's `Cause:`).
            pub fn from_q850(code: u16) -> HangupCause {
                match code {
                    $($q850 => HangupCause::$variant,)*
                    other => HangupCause::Other(format!("Q850_{other}")),
                }
            }

            pub fn name(&self) -> &str {
                match self {
                    $(HangupCause::$variant => $name,)*
                    HangupCause::Other(s) => s,
                }
            }

            /// The Q.850 number, where the cause has one.
            pub fn q850(&self) -> Option<u16> {
                match self {
                    $(HangupCause::$variant if $q850 < 200 => Some($q850),)*
                    _ => None,
                }
            }
        }
    };
}

// FreeSWITCH's switch_cause_table; the numbers above 127 are FreeSWITCH's own.
causes! {
    Unspecified = "UNSPECIFIED", 0;
    UnallocatedNumber = "UNALLOCATED_NUMBER", 1;
    NoRouteTransitNet = "NO_ROUTE_TRANSIT_NET", 2;
    NoRouteDestination = "NO_ROUTE_DESTINATION", 3;
    ChannelUnacceptable = "CHANNEL_UNACCEPTABLE", 6;
    CallAwardedDelivered = "CALL_AWARDED_DELIVERED", 7;
    NormalClearing = "NORMAL_CLEARING", 16;
    UserBusy = "USER_BUSY", 17;
    NoUserResponse = "NO_USER_RESPONSE", 18;
    NoAnswer = "NO_ANSWER", 19;
    SubscriberAbsent = "SUBSCRIBER_ABSENT", 20;
    CallRejected = "CALL_REJECTED", 21;
    NumberChanged = "NUMBER_CHANGED", 22;
    RedirectionToNewDestination = "REDIRECTION_TO_NEW_DESTINATION", 23;
    ExchangeRoutingError = "EXCHANGE_ROUTING_ERROR", 25;
    DestinationOutOfOrder = "DESTINATION_OUT_OF_ORDER", 27;
    InvalidNumberFormat = "INVALID_NUMBER_FORMAT", 28;
    FacilityRejected = "FACILITY_REJECTED", 29;
    ResponseToStatusEnquiry = "RESPONSE_TO_STATUS_ENQUIRY", 30;
    NormalUnspecified = "NORMAL_UNSPECIFIED", 31;
    NormalCircuitCongestion = "NORMAL_CIRCUIT_CONGESTION", 34;
    NetworkOutOfOrder = "NETWORK_OUT_OF_ORDER", 38;
    NormalTemporaryFailure = "NORMAL_TEMPORARY_FAILURE", 41;
    SwitchCongestion = "SWITCH_CONGESTION", 42;
    AccessInfoDiscarded = "ACCESS_INFO_DISCARDED", 43;
    RequestedChanUnavail = "REQUESTED_CHAN_UNAVAIL", 44;
    PreEmpted = "PRE_EMPTED", 45;
    FacilityNotSubscribed = "FACILITY_NOT_SUBSCRIBED", 50;
    OutgoingCallBarred = "OUTGOING_CALL_BARRED", 52;
    IncomingCallBarred = "INCOMING_CALL_BARRED", 54;
    BearerCapabilityNotAuth = "BEARERCAPABILITY_NOTAUTH", 57;
    BearerCapabilityNotAvail = "BEARERCAPABILITY_NOTAVAIL", 58;
    ServiceUnavailable = "SERVICE_UNAVAILABLE", 63;
    BearerCapabilityNotImpl = "BEARERCAPABILITY_NOTIMPL", 65;
    ChanNotImplemented = "CHAN_NOT_IMPLEMENTED", 66;
    FacilityNotImplemented = "FACILITY_NOT_IMPLEMENTED", 69;
    ServiceNotImplemented = "SERVICE_NOT_IMPLEMENTED", 79;
    InvalidCallReference = "INVALID_CALL_REFERENCE", 81;
    IncompatibleDestination = "INCOMPATIBLE_DESTINATION", 88;
    InvalidMsgUnspecified = "INVALID_MSG_UNSPECIFIED", 95;
    MandatoryIeMissing = "MANDATORY_IE_MISSING", 96;
    MessageTypeNonexist = "MESSAGE_TYPE_NONEXIST", 97;
    WrongMessage = "WRONG_MESSAGE", 98;
    IeNonexist = "IE_NONEXIST", 99;
    InvalidIeContents = "INVALID_IE_CONTENTS", 100;
    WrongCallState = "WRONG_CALL_STATE", 101;
    RecoveryOnTimerExpire = "RECOVERY_ON_TIMER_EXPIRE", 102;
    MandatoryIeLengthError = "MANDATORY_IE_LENGTH_ERROR", 103;
    ProtocolError = "PROTOCOL_ERROR", 111;
    Interworking = "INTERWORKING", 127;
    Success = "SUCCESS", 142;
    OriginatorCancel = "ORIGINATOR_CANCEL", 487;
    Crash = "CRASH", 500;
    SystemShutdown = "SYSTEM_SHUTDOWN", 501;
    LoseRace = "LOSE_RACE", 502;
    ManagerRequest = "MANAGER_REQUEST", 503;
    BlindTransfer = "BLIND_TRANSFER", 600;
    AttendedTransfer = "ATTENDED_TRANSFER", 601;
    AllottedTimeout = "ALLOTTED_TIMEOUT", 602;
    UserChallenge = "USER_CHALLENGE", 603;
    MediaTimeout = "MEDIA_TIMEOUT", 604;
    PickedOff = "PICKED_OFF", 605;
    UserNotRegistered = "USER_NOT_REGISTERED", 606;
    ProgressTimeout = "PROGRESS_TIMEOUT", 607;
    InvalidGateway = "INVALID_GATEWAY", 608;
    GatewayDown = "GATEWAY_DOWN", 609;
    InvalidUrl = "INVALID_URL", 610;
    InvalidProfile = "INVALID_PROFILE", 611;
    NoPickup = "NO_PICKUP", 612;
    SrtpReadError = "SRTP_READ_ERROR", 613;
    Bowout = "BOWOUT", 614;
    BusyEverywhere = "BUSY_EVERYWHERE", 615;
    Decline = "DECLINE", 616;
    DoesNotExistAnywhere = "DOES_NOT_EXIST_ANYWHERE", 617;
    NotAcceptable = "NOT_ACCEPTABLE", 618;
    Unwanted = "UNWANTED", 619;
    NoIdentity = "NO_IDENTITY", 620;
    BadIdentityInfo = "BAD_IDENTITY_INFO", 621;
    UnsupportedCertificate = "UNSUPPORTED_CERTIFICATE", 622;
    InvalidIdentity = "INVALID_IDENTITY", 623;
    StaleDate = "STALE_DATE", 624;
    RejectAll = "REJECT_ALL", 625;
}

impl HangupCause {
    /// The customer was reached and the call ended normally.
    pub fn is_normal(&self) -> bool {
        matches!(self, HangupCause::NormalClearing | HangupCause::Success)
    }

    /// The dialer may try the number again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HangupCause::UserBusy
                | HangupCause::NoAnswer
                | HangupCause::NoUserResponse
                | HangupCause::NormalCircuitCongestion
                | HangupCause::SwitchCongestion
                | HangupCause::NormalTemporaryFailure
                | HangupCause::RecoveryOnTimerExpire
                | HangupCause::ProgressTimeout
                | HangupCause::GatewayDown
                | HangupCause::DestinationOutOfOrder
        )
    }
}

impl fmt::Display for HangupCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for HangupCause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_agree() {
        assert_eq!(HangupCause::from_name("USER_BUSY"), HangupCause::UserBusy);
        assert_eq!(HangupCause::from_q850(17), HangupCause::UserBusy);
        assert_eq!(HangupCause::UserBusy.q850(), Some(17));
        assert_eq!(HangupCause::OriginatorCancel.q850(), None);
        assert_eq!(HangupCause::from_name("WEIRD").name(), "WEIRD");
        assert_eq!(
            HangupCause::from_q850(150),
            HangupCause::Other("Q850_150".into())
        );
    }
}
