//! `http::api::parse_body` (every JSON request body the HTTP API takes, strictly: malformed
//! JSON, a field the body does not have, or a field of the wrong type) on arbitrary bytes, for
//! each body type of the route table: no panic (serde_json's recursion limit holds a deeply
//! nested body), no allocation beyond a fixed bound (run.sh's malloc limit over 70 kB bodies),
//! every refusal an `invalid-field` error naming the field (`body` for the body as a whole)
//! in English and Chinese, and what is accepted reads back the same from its own JSON.
//!
//! The first byte picks the body type; the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_node::error::NodeError;
use lingong_node::http::api::{
    DirectoryBody, LoginBody, OutcomeBody, PushMarkBody, PushSendBody, ReasonBody, ReviewBody,
    parse_body,
};
use lingong_node::http::oversight::{OrderBody, SealBody};
use lingong_node::request::{
    AssistFields, ComplaintFields, ComplaintUpdate, EmployerFields, PlacementFields, PostFields,
    WorkerFields,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn check<B: DeserializeOwned + Default + Serialize>(body: &[u8]) {
    match parse_body::<B>(body) {
        Ok(b) => {
            let again = serde_json::to_vec(&b).expect("an accepted body encodes");
            let b2 = parse_body::<B>(&again).expect("an accepted body reads back");
            assert_eq!(
                serde_json::to_value(&b).expect("value"),
                serde_json::to_value(&b2).expect("value"),
                "the same body after a round trip"
            );
        }
        Err(NodeError::Usage {
            field,
            rule,
            rule_zh,
        }) => {
            assert!(!field.is_empty(), "a refusal names its field: {rule}");
            assert!(!rule.is_empty() && !rule_zh.is_empty(), "both languages");
        }
        Err(other) => panic!("a refusal that is not a field error: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    match choice % 16 {
        0 => check::<PostFields>(body),
        1 => check::<EmployerFields>(body),
        2 => check::<WorkerFields>(body),
        3 => check::<PlacementFields>(body),
        4 => check::<AssistFields>(body),
        5 => check::<ComplaintFields>(body),
        6 => check::<ComplaintUpdate>(body),
        7 => check::<ReviewBody>(body),
        8 => check::<ReasonBody>(body),
        9 => check::<OutcomeBody>(body),
        10 => check::<DirectoryBody>(body),
        11 => check::<PushMarkBody>(body),
        12 => check::<PushSendBody>(body),
        13 => check::<LoginBody>(body),
        14 => check::<SealBody>(body),
        _ => check::<OrderBody>(body),
    }
});
