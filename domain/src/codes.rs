//! Code lists that claims carry, each defined once: the API checks input
//! against them, the OpenAPI document lists them, the 837P renderer refuses
//! anything else, and a test holds the database's check constraints to them.

use serde::{Deserialize, Serialize};

/// Declares a code list as an enum whose serde form is the code itself.
macro_rules! code_list {
    ($(#[$meta:meta])* $name:ident { $($(#[$variant_meta:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                #[serde(rename = $code)]
                #[cfg_attr(feature = "openapi", schema(rename = $code))]
                $variant,
            )*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            pub fn parse(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|c| c.as_str() == code)
            }

            /// Every code, comma-separated (for error messages).
            pub fn list() -> String {
                Self::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

code_list! {
    /// SBR09, the claim filing indicator: the kind of plan the payer is, as the
    /// 837P (005010X222A1) lists them.
    ClaimFilingIndicator {
        OtherNonFederal = "11",
        PreferredProviderOrganization = "12",
        PointOfService = "13",
        ExclusiveProviderOrganization = "14",
        IndemnityInsurance = "15",
        HmoMedicareRisk = "16",
        DentalMaintenanceOrganization = "17",
        AutomobileMedical = "AM",
        BlueCrossBlueShield = "BL",
        Champus = "CH",
        Commercial = "CI",
        Disability = "DS",
        FederalEmployeesProgram = "FI",
        Hmo = "HM",
        LiabilityMedical = "LM",
        MedicarePartA = "MA",
        MedicarePartB = "MB",
        Medicaid = "MC",
        OtherFederal = "OF",
        TitleV = "TV",
        VeteransAffairs = "VA",
        WorkersCompensation = "WC",
        MutuallyDefined = "ZZ",
    }
}

code_list! {
    /// A USPS code of a state, DC, a territory or a military "state", as
    /// addresses on claims need them (N402).
    UsState {
        Alabama = "AL", Alaska = "AK", Arizona = "AZ", Arkansas = "AR", California = "CA",
        Colorado = "CO", Connecticut = "CT", Delaware = "DE", DistrictOfColumbia = "DC",
        Florida = "FL", Georgia = "GA", Hawaii = "HI", Idaho = "ID", Illinois = "IL",
        Indiana = "IN", Iowa = "IA", Kansas = "KS", Kentucky = "KY", Louisiana = "LA",
        Maine = "ME", Maryland = "MD", Massachusetts = "MA", Michigan = "MI", Minnesota = "MN",
        Mississippi = "MS", Missouri = "MO", Montana = "MT", Nebraska = "NE", Nevada = "NV",
        NewHampshire = "NH", NewJersey = "NJ", NewMexico = "NM", NewYork = "NY",
        NorthCarolina = "NC", NorthDakota = "ND", Ohio = "OH", Oklahoma = "OK", Oregon = "OR",
        Pennsylvania = "PA", RhodeIsland = "RI", SouthCarolina = "SC", SouthDakota = "SD",
        Tennessee = "TN", Texas = "TX", Utah = "UT", Vermont = "VT", Virginia = "VA",
        Washington = "WA", WestVirginia = "WV", Wisconsin = "WI", Wyoming = "WY",
        AmericanSamoa = "AS", Guam = "GU", NorthernMarianaIslands = "MP", PuertoRico = "PR",
        VirginIslands = "VI", Micronesia = "FM", MarshallIslands = "MH", Palau = "PW",
        ArmedForcesAmericas = "AA", ArmedForcesEurope = "AE", ArmedForcesPacific = "AP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_read_back() {
        for list in [
            ClaimFilingIndicator::ALL
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>(),
            UsState::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        ] {
            let mut sorted = list.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len());
        }
        assert_eq!(ClaimFilingIndicator::ALL.len(), 23);
        assert_eq!(UsState::ALL.len(), 62);
        for code in ClaimFilingIndicator::ALL {
            assert_eq!(ClaimFilingIndicator::parse(code.as_str()), Some(*code));
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{code}\""));
        }
    }

    #[test]
    fn self_pay_is_not_a_5010_filing_indicator() {
        // "09" was a 4010 code; the 837P 5010 guide no longer lists it.
        assert_eq!(ClaimFilingIndicator::parse("09"), None);
        assert_eq!(UsState::parse("XX"), None);
        assert_eq!(UsState::parse("IL"), Some(UsState::Illinois));
    }
}
