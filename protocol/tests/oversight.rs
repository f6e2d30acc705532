//! The accept and scope rules of the oversight records: a supervision order (kind 11) is
//! advertised in the ordered station's home area, which must be an area inside its issuer's
//! region, and travels like a revocation; a report seal (kind 10) goes to the ancestors of its
//! region only; the unused kind number 9 is refused on the wire.

mod common;

use common::{NOW_MS, Net, code};
use lingong_protocol::Error;
use lingong_protocol::author::Target;
use lingong_protocol::record::{FieldValue, RecordKind};
use lingong_protocol::scope::{Scope, Want};

fn order_fields() -> Vec<(&'static str, FieldValue)> {
    vec![
        ("node", FieldValue::Text("12D3KooW".into())),
        ("reason", FieldValue::Text("两周未更新岗位".into())),
        ("deadline", FieldValue::Text("2025-06-30".into())),
    ]
}

#[test]
fn a_supervision_order_reaches_the_ordered_stations_area_inside_its_issuers_region() {
    let net = Net::new();
    let mut store = net.store();
    let order = |reach: &str| Target::Create {
        kind: RecordKind::SupervisionOrder,
        reach: Some(code(reach)),
    };
    // The city orders a village of 黄平县: advertised in 黄平县.
    net.write(
        &mut store,
        &net.city,
        order("522622"),
        &order_fields(),
        NOW_MS,
    )
    .expect("the county is inside the city");
    // Not a home area (a township), or an area outside the issuer's region: refused.
    for (who, reach) in [
        (&net.city, "522622101"),
        (&net.county, "522623"),
        (&net.county, "5226"),
    ] {
        let before = store.clone();
        let err = net
            .write(&mut store, who, order(reach), &order_fields(), NOW_MS)
            .expect_err("refused");
        assert!(
            matches!(err, Error::InvalidField { .. }),
            "{reach}: {err:?}"
        );
        assert_eq!(store.envelopes, before.envelopes);
    }
    // Where it goes: like a revocation, around the ordered station.
    let (county, reach) = (code("5226"), code("522622"));
    let wants =
        |node: &str| Scope::new(code(node)).wants(RecordKind::SupervisionOrder, &county, &reach);
    for node in ["52", "5226", "522622", "522622101", "522622101001"] {
        assert_eq!(wants(node), Want::Full, "{node}");
    }
    assert_eq!(wants("522623"), Want::Nothing);
    let seal = |node: &str| {
        Scope::new(code(node)).wants(RecordKind::ReportSeal, &code("522622"), &code("522622"))
    };
    assert_eq!(seal("52"), Want::Full);
    assert_eq!(seal("522622"), Want::Full);
    assert_eq!(seal("522622101"), Want::Nothing);
}

#[test]
fn kind_numbers_map_by_value() {
    for kind in RecordKind::ALL {
        assert_eq!(RecordKind::from_u8(kind as u8).unwrap(), kind);
    }
    assert_eq!(RecordKind::from_u8(10).unwrap(), RecordKind::ReportSeal);
    assert_eq!(
        RecordKind::from_u8(11).unwrap(),
        RecordKind::SupervisionOrder
    );
    assert_eq!(RecordKind::from_u8(9).unwrap(), RecordKind::Assistance);
    assert!(RecordKind::from_u8(12).is_err());
}
