//! Errors of the harmony module: values a user typed (persona, dates,
//! reasoning effort, recipients) that do not parse.

use thiserror::Error;

/// A value given to the harmony module that it cannot use.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HarmonyError {
    /// A persona name that is none of the nine alignments.
    #[error(
        "unknown persona `{given}`: expected one of lawful_good, neutral_good, chaotic_good, \
         lawful_neutral, true_neutral, chaotic_neutral, lawful_evil, neutral_evil, chaotic_evil"
    )]
    UnknownPersona {
        /// What was given.
        given: String,
    },
    /// A reasoning effort other than low, medium or high.
    #[error("unknown reasoning effort `{given}`: expected low, medium or high")]
    UnknownReasoningEffort {
        /// What was given.
        given: String,
    },
    /// A date not written `YYYY-MM-DD` or not in the calendar.
    #[error("invalid date `{given}`: expected a real date written YYYY-MM-DD")]
    InvalidDate {
        /// What was given.
        given: String,
    },
    /// A month not written `YYYY-MM`.
    #[error("invalid month `{given}`: expected YYYY-MM with a month from 01 to 12")]
    InvalidYearMonth {
        /// What was given.
        given: String,
    },
    /// A channel name other than analysis, commentary or final.
    #[error("unknown channel `{given}`: expected analysis, commentary or final")]
    UnknownChannel {
        /// What was given.
        given: String,
    },
    /// A role name other than system, developer, user, assistant or tool.
    #[error("unknown role `{given}`: expected system, developer, user, assistant or tool")]
    UnknownRole {
        /// What was given.
        given: String,
    },
    /// A recipient or tool address that is empty or contains whitespace.
    #[error("invalid recipient `{given}`: expected a name such as functions.bash, without spaces")]
    InvalidRecipient {
        /// What was given.
        given: String,
    },
}
