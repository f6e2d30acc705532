//! `Certificate::read` (one link of a chain) on arbitrary bytes: no panic, what reads to the
//! end is canonical and checks its signature and validity without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_protocol::canon::Reader;
use lingong_protocol::cert::Certificate;

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    if let Ok(cert) = Certificate::read(&mut r) {
        let used = r.position();
        assert_eq!(cert.to_bytes(), &data[..used], "a certificate's bytes are canonical");
        let _ = cert.signature_valid();
        let _ = cert.valid_at(cert.body.not_before);
        let _ = cert.hash();
        if r.finish().is_ok() {
            // The whole input was the certificate: with a byte more, finish() must object.
            let mut longer = data.to_vec();
            longer.push(0);
            let mut r = Reader::new(&longer);
            Certificate::read(&mut r).expect("the same certificate");
            assert!(r.finish().is_err());
        }
    }
});
