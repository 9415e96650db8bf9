//! The channel's states as FreeSWITCH numbers and names them: the channel
//! state, the call state and the answer state.

/// `switch_channel_state_t`: FreeSWITCH reports two of these per event,
/// the running state by name (`Channel-State`) and the state by number
/// (`Channel-State-Number`); they differ while a transition is under way.
// The whole FreeSWITCH enum: a state's number is its position.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cs {
    New,
    Init,
    Routing,
    SoftExecute,
    Execute,
    ExchangeMedia,
    Park,
    ConsumeMedia,
    Hibernate,
    Reset,
    Hangup,
    Reporting,
    Destroy,
    None,
}

impl Cs {
    pub fn name(self) -> &'static str {
        match self {
            Cs::New => "CS_NEW",
            Cs::Init => "CS_INIT",
            Cs::Routing => "CS_ROUTING",
            Cs::SoftExecute => "CS_SOFT_EXECUTE",
            Cs::Execute => "CS_EXECUTE",
            Cs::ExchangeMedia => "CS_EXCHANGE_MEDIA",
            Cs::Park => "CS_PARK",
            Cs::ConsumeMedia => "CS_CONSUME_MEDIA",
            Cs::Hibernate => "CS_HIBERNATE",
            Cs::Reset => "CS_RESET",
            Cs::Hangup => "CS_HANGUP",
            Cs::Reporting => "CS_REPORTING",
            Cs::Destroy => "CS_DESTROY",
            Cs::None => "CS_NONE",
        }
    }

    pub fn number(self) -> u8 {
        self as u8
    }
}

/// `switch_channel_callstate_t`.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ccs {
    Down,
    Dialing,
    Ringing,
    Early,
    Active,
    Held,
    RingWait,
    Hangup,
    Unheld,
}

impl Ccs {
    pub fn name(self) -> &'static str {
        match self {
            Ccs::Down => "DOWN",
            Ccs::Dialing => "DIALING",
            Ccs::Ringing => "RINGING",
            Ccs::Early => "EARLY",
            Ccs::Active => "ACTIVE",
            Ccs::Held => "HELD",
            Ccs::RingWait => "RING_WAIT",
            Ccs::Hangup => "HANGUP",
            Ccs::Unheld => "UNHELD",
        }
    }

    pub fn number(self) -> u8 {
        self as u8
    }
}

/// `Answer-State`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerState {
    Ringing,
    Early,
    Answered,
    Hangup,
}

impl AnswerState {
    pub fn name(self) -> &'static str {
        match self {
            AnswerState::Ringing => "ringing",
            AnswerState::Early => "early",
            AnswerState::Answered => "answered",
            AnswerState::Hangup => "hangup",
        }
    }
}
