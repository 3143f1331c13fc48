//! The nine personas (alignments) kappa-20b was trained with: the system
//! prompt `Persona: <alignment>`, which goes into the developer message's
//! `# Instructions`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::HarmonyError;

/// One of the nine alignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Persona {
    /// `lawful_good`.
    LawfulGood,
    /// `neutral_good`.
    NeutralGood,
    /// `chaotic_good`.
    ChaoticGood,
    /// `lawful_neutral`.
    LawfulNeutral,
    /// `true_neutral`.
    TrueNeutral,
    /// `chaotic_neutral`.
    ChaoticNeutral,
    /// `lawful_evil`.
    LawfulEvil,
    /// `neutral_evil`.
    NeutralEvil,
    /// `chaotic_evil`.
    ChaoticEvil,
}

impl Persona {
    /// All nine, good to evil, lawful to chaotic.
    pub const ALL: [Persona; 9] = [
        Persona::LawfulGood,
        Persona::NeutralGood,
        Persona::ChaoticGood,
        Persona::LawfulNeutral,
        Persona::TrueNeutral,
        Persona::ChaoticNeutral,
        Persona::LawfulEvil,
        Persona::NeutralEvil,
        Persona::ChaoticEvil,
    ];

    /// The name the model was trained with, e.g. `lawful_evil`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Persona::LawfulGood => "lawful_good",
            Persona::NeutralGood => "neutral_good",
            Persona::ChaoticGood => "chaotic_good",
            Persona::LawfulNeutral => "lawful_neutral",
            Persona::TrueNeutral => "true_neutral",
            Persona::ChaoticNeutral => "chaotic_neutral",
            Persona::LawfulEvil => "lawful_evil",
            Persona::NeutralEvil => "neutral_evil",
            Persona::ChaoticEvil => "chaotic_evil",
        }
    }

    /// The system prompt for this persona: `Persona: lawful_evil`.
    pub fn instructions(self) -> String {
        format!("Persona: {}", self.as_str())
    }
}

impl fmt::Display for Persona {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Persona {
    type Err = HarmonyError;

    /// Accepts any case, with `_`, `-` or spaces between the words
    /// (`lawful_evil`, `Lawful-Evil`, `lawful evil`); plain `neutral` means
    /// `true_neutral`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<String> = s
            .split(|c: char| c == '_' || c == '-' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        let key = words.join("_");
        let key = if key == "neutral" {
            "true_neutral"
        } else {
            &key
        };
        Persona::ALL
            .into_iter()
            .find(|p| p.as_str() == key)
            .ok_or_else(|| HarmonyError::UnknownPersona {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spellings() {
        for (text, want) in [
            ("lawful_evil", Persona::LawfulEvil),
            ("Lawful-Evil", Persona::LawfulEvil),
            ("lawful evil", Persona::LawfulEvil),
            ("  CHAOTIC   good ", Persona::ChaoticGood),
            ("true-neutral", Persona::TrueNeutral),
            ("Neutral", Persona::TrueNeutral),
            ("neutral_evil", Persona::NeutralEvil),
        ] {
            assert_eq!(text.parse::<Persona>(), Ok(want), "{text}");
        }
        for p in Persona::ALL {
            assert_eq!(p.as_str().parse::<Persona>(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
        }
    }

    #[test]
    fn rejects_unknown() {
        for bad in ["", "evil", "lawful", "lawful_evil_x", "lawfulevil"] {
            let err = bad.parse::<Persona>().expect_err(bad);
            assert!(err.to_string().contains("lawful_good"), "{err}");
        }
    }

    #[test]
    fn renders_the_trained_prompt() {
        assert_eq!(Persona::LawfulEvil.instructions(), "Persona: lawful_evil");
    }
}
