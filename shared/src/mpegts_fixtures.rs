//! MPEG-TS test input for unit tests here and in the crates that read TS
//! with `mpegts` (the segmenter's, the GOP cache's): packets, PES headers,
//! a PAT and a PMT, as ffmpeg writes them. Built only for tests (this
//! crate's, or with the `mpegts-fixtures` feature).

use crate::mpegts::{PACKET, SYNC};

/// A packet: PID, PUSI, random access, payload (padded with 0xff).
pub fn packet(pid: u16, start: bool, rai: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![SYNC, (pid >> 8) as u8 & 0x1f, pid as u8, 0x10];
    if start {
        p[1] |= 0x40;
    }
    if rai {
        p[3] = 0x30;
        p.extend_from_slice(&[1, 0x40]);
    }
    p.extend_from_slice(payload);
    p.resize(PACKET, 0xff);
    p
}

/// A PES header with a PTS (and a DTS if given).
pub fn pes(pts: u64, dts: Option<u64>) -> Vec<u8> {
    let enc = |tag: u8, v: u64| {
        vec![
            tag << 4 | ((v >> 29) as u8 & 0x0e) | 1,
            (v >> 22) as u8,
            ((v >> 14) as u8 & 0xfe) | 1,
            (v >> 7) as u8,
            ((v << 1) as u8) | 1,
        ]
    };
    let mut h = vec![0, 0, 1, 0xe0, 0, 0, 0x80];
    match dts {
        Some(d) => {
            h.extend_from_slice(&[0xc0, 10]);
            h.extend(enc(3, pts));
            h.extend(enc(1, d));
        }
        None => {
            h.extend_from_slice(&[0x80, 5]);
            h.extend(enc(2, pts));
        }
    }
    h
}

/// A one-packet PSI section with a dummy CRC.
pub fn psi(table: u8, body: &[u8]) -> Vec<u8> {
    let len = 5 + body.len() + 4;
    let mut s = vec![
        0,
        table,
        0xb0 | (len >> 8) as u8,
        len as u8,
        0,
        1,
        0xc1,
        0,
        0,
    ];
    s.extend_from_slice(body);
    s.extend_from_slice(&[0, 0, 0, 0]);
    s
}

pub fn pat(pmt: u16) -> Vec<u8> {
    psi(0, &[0, 1, 0xe0 | (pmt >> 8) as u8, pmt as u8])
}

pub fn pmt(streams: &[(u8, u16)]) -> Vec<u8> {
    let mut b = vec![0xe1, 0x00, 0xf0, 0];
    for (t, pid) in streams {
        b.extend_from_slice(&[*t, 0xe0 | (pid >> 8) as u8, *pid as u8, 0xf0, 0]);
    }
    psi(2, &b)
}
