//! TLS material for the simulated nodes, made in-process and byte-for-byte the same in every run.
//!
//! `svea certs` (cluster::tls) makes ECDSA P-256 keys from the OS RNG with validity from now, so
//! certificate sizes (DER signatures are 70 to 72 bytes) and with them QUIC handshake flights
//! would differ between runs. Here every key is Ed25519 derived from a fixed seed (Ed25519
//! signatures are deterministic and always 64 bytes), validity and serial numbers are fixed, and
//! the names and usages are those `generate_node_cert` gives, so the production verifier accepts
//! them unchanged. These keys are public: simulation only.

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber};

/// PKCS#8 v1 prefix of an Ed25519 private key; the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

fn key(seed_byte: u8) -> anyhow::Result<KeyPair> {
    let mut der = ED25519_PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&[seed_byte; 32]);
    Ok(KeyPair::try_from(der.as_slice())?)
}

fn fixed_validity(p: &mut CertificateParams) {
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2099, 12, 31);
}

/// (CA PEM, node certificate PEM, node key PEM) for each `(label, node id)`.
pub fn make(nodes: &[(&str, u64)]) -> anyhow::Result<Vec<(String, String, String)>> {
    let ca_key = key(0xca)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name.push(DnType::CommonName, "svea svea-sim cluster ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.serial_number = Some(SerialNumber::from(1u64));
    fixed_validity(&mut ca);
    let ca_pem = ca.self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(ca, ca_key);
    let mut out = Vec::new();
    for (label, id) in nodes {
        let node_key = key(u8::try_from(*id).unwrap_or(0xff))?;
        let name = svea_cluster::tls::server_name(*id);
        let mut p = CertificateParams::new(vec![name.clone(), (*label).to_owned()])?;
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        p.use_authority_key_identifier_extension = true;
        p.serial_number = Some(SerialNumber::from(100 + id));
        fixed_validity(&mut p);
        let cert = p.signed_by(&node_key, &issuer)?;
        out.push((ca_pem.clone(), cert.pem(), node_key.serialize_pem()));
    }
    Ok(out)
}
