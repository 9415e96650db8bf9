//! A customer's time zone from the number alone, where that is certain:
//! the number's country has one zone. Countries with several (US, RU, AU,
//! BR, ...) need the address or the area code, which is not this module's
//! business; they get `None` rather than a guess that could put a call
//! outside the legal hours.

use chrono_tz::Tz;

/// Countries (ISO 3166 alpha-2) with one zone, sorted by code for binary
/// search.
///
/// Generated once from `/usr/share/zoneinfo/zone.tab`, tzdata 2025b (the
/// first line of `tzdata.zi`; chrono-tz 0.10.4 carries the same release):
/// every country on exactly one line of zone.tab, and also the countries
/// whose zones all keep the same UTC offset at every hour from 2025 through
/// 2037 (AR, CY, DE, KZ, MH, MY, PS, UZ: Germany's second line is Busingen,
/// on Swiss time, which is German time), under the zone listed first. The
/// test `merged_countries_zones_agree` checks the second rule against
/// chrono-tz. Regenerate when chrono-tz moves to a new tzdata release.
const SINGLE_ZONE: &[(&str, Tz)] = &[
    ("AD", Tz::Europe__Andorra),
    ("AE", Tz::Asia__Dubai),
    ("AF", Tz::Asia__Kabul),
    ("AG", Tz::America__Antigua),
    ("AI", Tz::America__Anguilla),
    ("AL", Tz::Europe__Tirane),
    ("AM", Tz::Asia__Yerevan),
    ("AO", Tz::Africa__Luanda),
    ("AR", Tz::America__Argentina__Buenos_Aires),
    ("AS", Tz::Pacific__Pago_Pago),
    ("AT", Tz::Europe__Vienna),
    ("AW", Tz::America__Aruba),
    ("AX", Tz::Europe__Mariehamn),
    ("AZ", Tz::Asia__Baku),
    ("BA", Tz::Europe__Sarajevo),
    ("BB", Tz::America__Barbados),
    ("BD", Tz::Asia__Dhaka),
    ("BE", Tz::Europe__Brussels),
    ("BF", Tz::Africa__Ouagadougou),
    ("BG", Tz::Europe__Sofia),
    ("BH", Tz::Asia__Bahrain),
    ("BI", Tz::Africa__Bujumbura),
    ("BJ", Tz::Africa__PortoNovo),
    ("BL", Tz::America__St_Barthelemy),
    ("BM", Tz::Atlantic__Bermuda),
    ("BN", Tz::Asia__Brunei),
    ("BO", Tz::America__La_Paz),
    ("BQ", Tz::America__Kralendijk),
    ("BS", Tz::America__Nassau),
    ("BT", Tz::Asia__Thimphu),
    ("BW", Tz::Africa__Gaborone),
    ("BY", Tz::Europe__Minsk),
    ("BZ", Tz::America__Belize),
    ("CC", Tz::Indian__Cocos),
    ("CF", Tz::Africa__Bangui),
    ("CG", Tz::Africa__Brazzaville),
    ("CH", Tz::Europe__Zurich),
    ("CI", Tz::Africa__Abidjan),
    ("CK", Tz::Pacific__Rarotonga),
    ("CM", Tz::Africa__Douala),
    ("CO", Tz::America__Bogota),
    ("CR", Tz::America__Costa_Rica),
    ("CU", Tz::America__Havana),
    ("CV", Tz::Atlantic__Cape_Verde),
    ("CW", Tz::America__Curacao),
    ("CX", Tz::Indian__Christmas),
    ("CY", Tz::Asia__Nicosia),
    ("CZ", Tz::Europe__Prague),
    ("DE", Tz::Europe__Berlin),
    ("DJ", Tz::Africa__Djibouti),
    ("DK", Tz::Europe__Copenhagen),
    ("DM", Tz::America__Dominica),
    ("DO", Tz::America__Santo_Domingo),
    ("DZ", Tz::Africa__Algiers),
    ("EE", Tz::Europe__Tallinn),
    ("EG", Tz::Africa__Cairo),
    ("EH", Tz::Africa__El_Aaiun),
    ("ER", Tz::Africa__Asmara),
    ("ET", Tz::Africa__Addis_Ababa),
    ("FI", Tz::Europe__Helsinki),
    ("FJ", Tz::Pacific__Fiji),
    ("FK", Tz::Atlantic__Stanley),
    ("FO", Tz::Atlantic__Faroe),
    ("FR", Tz::Europe__Paris),
    ("GA", Tz::Africa__Libreville),
    ("GB", Tz::Europe__London),
    ("GD", Tz::America__Grenada),
    ("GE", Tz::Asia__Tbilisi),
    ("GF", Tz::America__Cayenne),
    ("GG", Tz::Europe__Guernsey),
    ("GH", Tz::Africa__Accra),
    ("GI", Tz::Europe__Gibraltar),
    ("GM", Tz::Africa__Banjul),
    ("GN", Tz::Africa__Conakry),
    ("GP", Tz::America__Guadeloupe),
    ("GQ", Tz::Africa__Malabo),
    ("GR", Tz::Europe__Athens),
    ("GS", Tz::Atlantic__South_Georgia),
    ("GT", Tz::America__Guatemala),
    ("GU", Tz::Pacific__Guam),
    ("GW", Tz::Africa__Bissau),
    ("GY", Tz::America__Guyana),
    ("HK", Tz::Asia__Hong_Kong),
    ("HN", Tz::America__Tegucigalpa),
    ("HR", Tz::Europe__Zagreb),
    ("HT", Tz::America__PortauPrince),
    ("HU", Tz::Europe__Budapest),
    ("IE", Tz::Europe__Dublin),
    ("IL", Tz::Asia__Jerusalem),
    ("IM", Tz::Europe__Isle_of_Man),
    ("IN", Tz::Asia__Kolkata),
    ("IO", Tz::Indian__Chagos),
    ("IQ", Tz::Asia__Baghdad),
    ("IR", Tz::Asia__Tehran),
    ("IS", Tz::Atlantic__Reykjavik),
    ("IT", Tz::Europe__Rome),
    ("JE", Tz::Europe__Jersey),
    ("JM", Tz::America__Jamaica),
    ("JO", Tz::Asia__Amman),
    ("JP", Tz::Asia__Tokyo),
    ("KE", Tz::Africa__Nairobi),
    ("KG", Tz::Asia__Bishkek),
    ("KH", Tz::Asia__Phnom_Penh),
    ("KM", Tz::Indian__Comoro),
    ("KN", Tz::America__St_Kitts),
    ("KP", Tz::Asia__Pyongyang),
    ("KR", Tz::Asia__Seoul),
    ("KW", Tz::Asia__Kuwait),
    ("KY", Tz::America__Cayman),
    ("KZ", Tz::Asia__Almaty),
    ("LA", Tz::Asia__Vientiane),
    ("LB", Tz::Asia__Beirut),
    ("LC", Tz::America__St_Lucia),
    ("LI", Tz::Europe__Vaduz),
    ("LK", Tz::Asia__Colombo),
    ("LR", Tz::Africa__Monrovia),
    ("LS", Tz::Africa__Maseru),
    ("LT", Tz::Europe__Vilnius),
    ("LU", Tz::Europe__Luxembourg),
    ("LV", Tz::Europe__Riga),
    ("LY", Tz::Africa__Tripoli),
    ("MA", Tz::Africa__Casablanca),
    ("MC", Tz::Europe__Monaco),
    ("MD", Tz::Europe__Chisinau),
    ("ME", Tz::Europe__Podgorica),
    ("MF", Tz::America__Marigot),
    ("MG", Tz::Indian__Antananarivo),
    ("MH", Tz::Pacific__Majuro),
    ("MK", Tz::Europe__Skopje),
    ("ML", Tz::Africa__Bamako),
    ("MM", Tz::Asia__Yangon),
    ("MO", Tz::Asia__Macau),
    ("MP", Tz::Pacific__Saipan),
    ("MQ", Tz::America__Martinique),
    ("MR", Tz::Africa__Nouakchott),
    ("MS", Tz::America__Montserrat),
    ("MT", Tz::Europe__Malta),
    ("MU", Tz::Indian__Mauritius),
    ("MV", Tz::Indian__Maldives),
    ("MW", Tz::Africa__Blantyre),
    ("MY", Tz::Asia__Kuala_Lumpur),
    ("MZ", Tz::Africa__Maputo),
    ("NA", Tz::Africa__Windhoek),
    ("NC", Tz::Pacific__Noumea),
    ("NE", Tz::Africa__Niamey),
    ("NF", Tz::Pacific__Norfolk),
    ("NG", Tz::Africa__Lagos),
    ("NI", Tz::America__Managua),
    ("NL", Tz::Europe__Amsterdam),
    ("NO", Tz::Europe__Oslo),
    ("NP", Tz::Asia__Kathmandu),
    ("NR", Tz::Pacific__Nauru),
    ("NU", Tz::Pacific__Niue),
    ("OM", Tz::Asia__Muscat),
    ("PA", Tz::America__Panama),
    ("PE", Tz::America__Lima),
    ("PH", Tz::Asia__Manila),
    ("PK", Tz::Asia__Karachi),
    ("PL", Tz::Europe__Warsaw),
    ("PM", Tz::America__Miquelon),
    ("PN", Tz::Pacific__Pitcairn),
    ("PR", Tz::America__Puerto_Rico),
    ("PS", Tz::Asia__Gaza),
    ("PW", Tz::Pacific__Palau),
    ("PY", Tz::America__Asuncion),
    ("QA", Tz::Asia__Qatar),
    ("RE", Tz::Indian__Reunion),
    ("RO", Tz::Europe__Bucharest),
    ("RS", Tz::Europe__Belgrade),
    ("RW", Tz::Africa__Kigali),
    ("SA", Tz::Asia__Riyadh),
    ("SB", Tz::Pacific__Guadalcanal),
    ("SC", Tz::Indian__Mahe),
    ("SD", Tz::Africa__Khartoum),
    ("SE", Tz::Europe__Stockholm),
    ("SG", Tz::Asia__Singapore),
    ("SH", Tz::Atlantic__St_Helena),
    ("SI", Tz::Europe__Ljubljana),
    ("SJ", Tz::Arctic__Longyearbyen),
    ("SK", Tz::Europe__Bratislava),
    ("SL", Tz::Africa__Freetown),
    ("SM", Tz::Europe__San_Marino),
    ("SN", Tz::Africa__Dakar),
    ("SO", Tz::Africa__Mogadishu),
    ("SR", Tz::America__Paramaribo),
    ("SS", Tz::Africa__Juba),
    ("ST", Tz::Africa__Sao_Tome),
    ("SV", Tz::America__El_Salvador),
    ("SX", Tz::America__Lower_Princes),
    ("SY", Tz::Asia__Damascus),
    ("SZ", Tz::Africa__Mbabane),
    ("TC", Tz::America__Grand_Turk),
    ("TD", Tz::Africa__Ndjamena),
    ("TF", Tz::Indian__Kerguelen),
    ("TG", Tz::Africa__Lome),
    ("TH", Tz::Asia__Bangkok),
    ("TJ", Tz::Asia__Dushanbe),
    ("TK", Tz::Pacific__Fakaofo),
    ("TL", Tz::Asia__Dili),
    ("TM", Tz::Asia__Ashgabat),
    ("TN", Tz::Africa__Tunis),
    ("TO", Tz::Pacific__Tongatapu),
    ("TR", Tz::Europe__Istanbul),
    ("TT", Tz::America__Port_of_Spain),
    ("TV", Tz::Pacific__Funafuti),
    ("TW", Tz::Asia__Taipei),
    ("TZ", Tz::Africa__Dar_es_Salaam),
    ("UG", Tz::Africa__Kampala),
    ("UY", Tz::America__Montevideo),
    ("UZ", Tz::Asia__Samarkand),
    ("VA", Tz::Europe__Vatican),
    ("VC", Tz::America__St_Vincent),
    ("VE", Tz::America__Caracas),
    ("VG", Tz::America__Tortola),
    ("VI", Tz::America__St_Thomas),
    ("VN", Tz::Asia__Ho_Chi_Minh),
    ("VU", Tz::Pacific__Efate),
    ("WF", Tz::Pacific__Wallis),
    ("WS", Tz::Pacific__Apia),
    ("YE", Tz::Asia__Aden),
    ("YT", Tz::Indian__Mayotte),
    ("ZA", Tz::Africa__Johannesburg),
    ("ZM", Tz::Africa__Lusaka),
    ("ZW", Tz::Africa__Harare),
];

/// The IANA zone of a country (ISO 3166 alpha-2, e.g. "FR", any case) that
/// has exactly one; `None` for countries with several and unknown codes.
pub fn single_zone(region: &str) -> Option<Tz> {
    let &[a, b] = region.as_bytes() else {
        return None;
    };
    let code = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
    let code = std::str::from_utf8(&code).ok()?;
    let i = SINGLE_ZONE.binary_search_by(|&(c, _)| c.cmp(code)).ok()?;
    SINGLE_ZONE.get(i).map(|&(_, tz)| tz)
}

/// The zone of a number, from the region the phonenumber metadata gives it,
/// when that region has one zone. Non-geographic numbers (+800, ...) have
/// no region and get `None`.
pub fn zone_of_number(number: &phonenumber::PhoneNumber) -> Option<Tz> {
    let region = number.country().id()?;
    single_zone(region.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Offset, TimeZone, Utc};

    #[test]
    fn one_zone_countries() {
        assert_eq!(single_zone("FR"), Some(Tz::Europe__Paris));
        assert_eq!(single_zone("DE"), Some(Tz::Europe__Berlin));
        assert_eq!(single_zone("IN"), Some(Tz::Asia__Kolkata));
        assert_eq!(single_zone("JP"), Some(Tz::Asia__Tokyo));
        assert_eq!(single_zone("GB"), Some(Tz::Europe__London));
        assert_eq!(single_zone("fr"), Some(Tz::Europe__Paris));
    }

    #[test]
    fn several_zone_countries_and_junk() {
        for region in [
            "US", "RU", "AU", "CA", "BR", "MX", "ES", "PT", "CN", "NZ", "ID",
        ] {
            assert_eq!(single_zone(region), None, "{region}");
        }
        for junk in ["", "F", "FRA", "XX", "é", "\u{0}\u{0}"] {
            assert_eq!(single_zone(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn table_is_sorted_without_repeats() {
        assert!(SINGLE_ZONE.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(
            SINGLE_ZONE
                .iter()
                .all(|(c, _)| { c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) })
        );
        for &(code, tz) in SINGLE_ZONE {
            assert_eq!(single_zone(code), Some(tz));
        }
    }

    #[test]
    fn table_matches_chrono_tz_release() {
        // The table was cut from this release: a newer chrono-tz may have
        // moved a country to or from several zones.
        assert_eq!(
            chrono_tz::IANA_TZDB_VERSION,
            "2025b",
            "regenerate SINGLE_ZONE"
        );
    }

    /// The countries taken in although zone.tab lists several zones for
    /// them, with the zones other than the one in the table.
    const MERGED: &[(&str, &[Tz])] = &[
        (
            "AR",
            &[
                Tz::America__Argentina__Cordoba,
                Tz::America__Argentina__Salta,
                Tz::America__Argentina__Jujuy,
                Tz::America__Argentina__Tucuman,
                Tz::America__Argentina__Catamarca,
                Tz::America__Argentina__La_Rioja,
                Tz::America__Argentina__San_Juan,
                Tz::America__Argentina__Mendoza,
                Tz::America__Argentina__San_Luis,
                Tz::America__Argentina__Rio_Gallegos,
                Tz::America__Argentina__Ushuaia,
            ],
        ),
        ("CY", &[Tz::Asia__Famagusta]),
        ("DE", &[Tz::Europe__Busingen]),
        (
            "KZ",
            &[
                Tz::Asia__Qyzylorda,
                Tz::Asia__Qostanay,
                Tz::Asia__Aqtobe,
                Tz::Asia__Aqtau,
                Tz::Asia__Atyrau,
                Tz::Asia__Oral,
            ],
        ),
        ("MH", &[Tz::Pacific__Kwajalein]),
        ("MY", &[Tz::Asia__Kuching]),
        ("PS", &[Tz::Asia__Hebron]),
        ("UZ", &[Tz::Asia__Tashkent]),
    ];

    #[test]
    fn merged_countries_zones_agree() {
        let start = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp();
        let end = Utc
            .with_ymd_and_hms(2038, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp();
        for &(code, others) in MERGED {
            let main = single_zone(code).unwrap();
            let mut t = start;
            while t < end {
                let at = chrono::DateTime::from_timestamp(t, 0).unwrap().naive_utc();
                let want = main.offset_from_utc_datetime(&at).fix();
                for other in others {
                    assert_eq!(
                        other.offset_from_utc_datetime(&at).fix(),
                        want,
                        "{code} {other} at {at}"
                    );
                }
                t += 3600;
            }
        }
    }

    #[test]
    fn numbers() {
        let paris = phonenumber::parse(None, "+33 1 42 68 53 00").unwrap();
        assert_eq!(zone_of_number(&paris), Some(Tz::Europe__Paris));
        let tokyo = phonenumber::parse(None, "+81 3-3224-5000").unwrap();
        assert_eq!(zone_of_number(&tokyo), Some(Tz::Asia__Tokyo));
        let new_york = phonenumber::parse(None, "+1 212 736 3100").unwrap();
        assert_eq!(zone_of_number(&new_york), None);
        let toll_free = phonenumber::parse(None, "+800 1234 0000").unwrap();
        assert_eq!(zone_of_number(&toll_free), None);
    }
}
