//! `--only`'s values: the mirrored kinds (`clerk_sync_clerk_api::Kind`) as the CLI spells
//! them, in the plural.

use clerk_sync_clerk_api::Kind;

/// A kind as `--only` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    /// Users.
    Users,
    /// Organizations.
    Organizations,
    /// Organization memberships.
    Memberships,
}

impl From<KindArg> for Kind {
    fn from(arg: KindArg) -> Self {
        match arg {
            KindArg::Users => Kind::User,
            KindArg::Organizations => Kind::Organization,
            KindArg::Memberships => Kind::Membership,
        }
    }
}

/// The kinds `--only` names, in the order they are read; every kind when it names none.
pub fn selected(only: &[KindArg]) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = if only.is_empty() {
        Kind::ALL.to_vec()
    } else {
        only.iter().map(|&arg| arg.into()).collect()
    };
    kinds.sort();
    kinds.dedup();
    kinds
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum as _;

    use super::*;

    /// A kind added to the library without its `--only` value, or spelt otherwise, fails
    /// here.
    #[test]
    fn every_kind_has_its_only_value_spelt_as_its_plural() {
        let mut named: Vec<(Kind, String)> = KindArg::value_variants()
            .iter()
            .map(|arg| {
                let name = arg.to_possible_value().map(|v| v.get_name().to_owned());
                (Kind::from(*arg), name.unwrap_or_default())
            })
            .collect();
        named.sort();
        let expected: Vec<(Kind, String)> = Kind::ALL
            .iter()
            .map(|kind| (*kind, kind.plural().to_owned()))
            .collect();
        assert_eq!(named, expected);
        assert_eq!(selected(&[]), Kind::ALL);
    }
}
