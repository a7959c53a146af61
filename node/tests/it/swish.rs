//! Cashback paid out with Swish (issue 21): the `swish` rail against a fake Swish that speaks the
//! documented Payout API with Swish's own MSS test certificates (`fake_swish.rs`).

use std::sync::Arc;

use svea_node::core::rail::{PayoutId, PayoutOrder, PayoutRail, RailState};
use svea_node::core::swish::Swish;
use svea_node::domain::money::Ore;
use svea_node::domain::payee::Payee;

use crate::fake_swish::FakeSwish;

/// A rail built the way a node builds it, from `[swish]` pointed at `fake`.
fn rail_for(fake: &FakeSwish) -> Swish {
    let mut raw = svea_config::RawConfig::default();
    for (k, v) in fake.overrides() {
        raw.set(&k, &v).expect("override");
    }
    let config = raw.validate().expect("config");
    Swish::new(&config.swish).expect("swish rail")
}

fn order(bits: u128, alias: &str) -> PayoutOrder {
    PayoutOrder {
        id: PayoutId::from_bits(bits),
        amount: Ore::from_ore(12_345),
        payee: Payee { alias: alias.into(), ssn: "199001010017".into() },
        message: "Cashback från svea".into(),
        instructed_ms: 1_765_000_000_000,
    }
}

#[test]
fn a_signed_payout_over_mutual_tls_is_accepted_and_paid_once_per_instruction_id() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeSwish::start(dir.path());
    let rail = rail_for(&fake);
    let o = order(0xA1, "46701234567");
    // 201 Created: in flight until the callback or a status query settles it.
    assert_eq!(rail.send(&o).expect("send"), RailState::InFlight);
    assert_eq!(fake.refused(), Vec::<String>::new(), "the fake's field and signature checks refused the instruction");
    let stored = fake.payouts().remove(o.id.as_str()).expect("stored");
    assert_eq!(stored.payload["amount"], "123.45");
    assert_eq!(stored.payload["payeeAlias"], "46701234567");
    assert_eq!(stored.payload["payerPaymentReference"], o.id.as_str());
    assert_eq!(rail.status(&o.id).expect("status"), RailState::Paid);
    // A retry with the same id (a node that restarted, a lost answer): no second payment, and the
    // rail learns the first one's state.
    assert_eq!(rail.send(&o).expect("resend"), RailState::Paid);
    assert_eq!(fake.creates()[o.id.as_str()], 2);
    assert_eq!(fake.payments()[o.id.as_str()], 1);
}

#[test]
fn a_refused_payee_fails_with_a_reason_a_customer_understands() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeSwish::start(dir.path());
    fake.fail_payee("46709999999", "ACMT07");
    let rail = rail_for(&fake);
    let o = order(0xB2, "46709999999");
    assert_eq!(rail.send(&o).expect("send"), RailState::InFlight);
    match rail.status(&o.id).expect("status") {
        RailState::Failed { code, reason } => {
            assert_eq!(code, "ACMT07");
            assert!(reason.contains("Swishnummer"), "{reason}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(fake.payments().get(o.id.as_str()), None);
}

#[test]
fn the_fake_refuses_what_swish_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeSwish::start(dir.path());
    // A client without the merchant's certificate gets no answer at all.
    let root = std::fs::read(&fake.root_ca).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::pem_slice_iter(&root) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let anonymous = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let agent = ureq::AgentBuilder::new().tls_config(Arc::new(anonymous)).build();
    let url = format!("{}/api/v1/payouts/{}", fake.api_base, "A".repeat(32));
    assert!(matches!(agent.get(&url).call(), Err(ureq::Error::Transport(_))), "served without a client certificate");
    // A payload changed after signing does not verify; a bad field is refused with its code.
    let rail = rail_for(&fake);
    let body = rail.create_body(&order(0xC3, "46701234567")).unwrap().replace("123.45", "923.45");
    let client = client_agent(&fake);
    let refused = client.post(&format!("{}/api/v1/payouts", fake.api_base)).set("Content-Type", "application/json").send_string(&body);
    assert!(matches!(refused, Err(ureq::Error::Status(422, _))), "{refused:?}");
    assert!(fake.refused().last().is_some_and(|r| r.contains("signature")), "{:?}", fake.refused());
    let bad_alias = rail.send(&order(0xC4, "46812345678")).expect("answered");
    assert!(matches!(&bad_alias, RailState::Failed { code, .. } if code == "BE18"), "{bad_alias:?}");
    assert_eq!(fake.payments(), Default::default());
}

/// An agent with the merchant's client certificate, to send hand-made requests to the fake.
fn client_agent(fake: &FakeSwish) -> ureq::Agent {
    use rustls::pki_types::pem::PemObject;
    let root = std::fs::read(&fake.root_ca).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&root) {
        roots.add(cert.unwrap()).unwrap();
    }
    let chain = rustls::pki_types::CertificateDer::pem_file_iter(&fake.mss.cert).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&fake.mss.key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    ureq::AgentBuilder::new().tls_config(Arc::new(config)).build()
}
