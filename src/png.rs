//! A minimal PNG encoder for screenshots: 8-bit RGB, no compression.
//!
//! The image data goes into one zlib stream of *stored* deflate blocks (each at
//! most 65535 bytes, no compression), checked with Adler-32, in one `IDAT`
//! chunk; every chunk carries its CRC-32. A 640x400 screen makes a 768 KB file:
//! larger than a compressed one, but written in a millisecond with no crate and
//! no external program (the NixOS driver runs `pnmtopng`). Every PNG reader
//! accepts stored blocks.

/// The eight bytes every PNG file starts with.
const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
/// The largest payload of one stored deflate block.
const MAX_STORED: usize = 65535;

/// Encodes `rgb` (`width * height` pixels of three bytes, rows top to bottom)
/// as a PNG file.
///
/// # Panics
///
/// If the image is empty or `rgb` is not `width * height * 3` bytes long (a bug in the caller).
pub(crate) fn encode_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let row = width as usize * 3;
    assert!(width > 0 && height > 0, "an empty image");
    assert_eq!(
        rgb.len(),
        row * height as usize,
        "pixel data of the wrong size"
    );
    // Each row starts with its filter type: 0, none.
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in rgb.chunks(row) {
        raw.push(0);
        raw.extend_from_slice(line);
    }
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = SIGNATURE.to_vec();
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Appends one chunk: length, type, data, CRC-32 of type and data.
fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let length = u32::try_from(data.len()).expect("a PNG chunk holds less than 4 GiB");
    png.extend_from_slice(&length.to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

/// `data` (not empty) as a zlib stream of stored deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let blocks = data.len().div_ceil(MAX_STORED);
    let mut out = Vec::with_capacity(data.len() + blocks * 5 + 6);
    // CMF: deflate with a 32 KiB window; FLG: no dictionary, check bits so that
    // CMF*256+FLG is a multiple of 31.
    out.extend_from_slice(&[0x78, 0x01]);
    let mut pieces = data.chunks(MAX_STORED).peekable();
    while let Some(piece) = pieces.next() {
        let last = pieces.peek().is_none();
        let length = piece.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(piece);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// The CRC-32 of `data` (ISO-HDLC, as PNG and zip use it).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

/// The Adler-32 checksum of `data` (zlib's).
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that can be summed before `b` could overflow.
    for block in data.chunks(5552) {
        for &byte in block {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decoder for exactly what the encoder writes, checking everything a PNG
    /// reader would: signature, chunk order and CRCs, the zlib header, stored
    /// blocks and the Adler-32. Returns width, height and the RGB pixels.
    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        assert_eq!(png[..8], SIGNATURE);
        let mut rest = &png[8..];
        let mut chunks = Vec::new();
        while !rest.is_empty() {
            let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let body = &rest[4..8 + length];
            let crc = u32::from_be_bytes(rest[8 + length..12 + length].try_into().unwrap());
            assert_eq!(crc32(body), crc, "CRC of chunk {:?}", &body[..4]);
            chunks.push((body[..4].to_vec(), body[4..].to_vec()));
            rest = &rest[12 + length..];
        }
        let kinds: Vec<&[u8]> = chunks.iter().map(|(kind, _)| kind.as_slice()).collect();
        assert_eq!(kinds, [&b"IHDR"[..], b"IDAT", b"IEND"]);
        let header = &chunks[0].1;
        let width = u32::from_be_bytes(header[..4].try_into().unwrap());
        let height = u32::from_be_bytes(header[4..8].try_into().unwrap());
        assert_eq!(header[8..], [8, 2, 0, 0, 0]);
        let zlib = &chunks[1].1;
        assert_eq!((u16::from(zlib[0]) << 8 | u16::from(zlib[1])) % 31, 0);
        let mut stream = &zlib[2..zlib.len() - 4];
        let mut raw = Vec::new();
        loop {
            let last = stream[0] & 1 == 1;
            assert_eq!(stream[0] >> 1, 0, "a stored block");
            let length = u16::from_le_bytes([stream[1], stream[2]]);
            assert_eq!(!length, u16::from_le_bytes([stream[3], stream[4]]));
            raw.extend_from_slice(&stream[5..5 + length as usize]);
            stream = &stream[5 + length as usize..];
            if last {
                break;
            }
        }
        assert!(stream.is_empty(), "bytes after the last block");
        let adler = u32::from_be_bytes(zlib[zlib.len() - 4..].try_into().unwrap());
        assert_eq!(adler32(&raw), adler);
        let row = width as usize * 3 + 1;
        assert_eq!(raw.len(), row * height as usize);
        let mut pixels = Vec::new();
        for line in raw.chunks(row) {
            assert_eq!(line[0], 0, "filter type none");
            pixels.extend_from_slice(&line[1..]);
        }
        (width, height, pixels)
    }

    #[test]
    fn checksums_match_their_published_check_values() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(&[0xff; 100_000]), {
            let (mut a, mut b) = (1u64, 0u64);
            for _ in 0..100_000 {
                a = (a + 255) % 65521;
                b = (b + a) % 65521;
            }
            (b << 16 | a) as u32
        });
    }

    #[test]
    fn a_known_image_encodes_to_known_bytes() {
        // One red pixel; the bytes agree with what zlib's level 0 writes.
        let png = encode_rgb(1, 1, &[255, 0, 0]);
        let idat_data = [
            0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0x00, 0xff, 0x00, 0x00, 0x03, 0x01, 0x01,
            0x00,
        ];
        let idat = &png[8 + 25..];
        assert_eq!(idat[..4], 15u32.to_be_bytes());
        assert_eq!(idat[8..8 + 15], idat_data);
        assert_eq!(png.len(), 8 + 25 + (12 + 15) + 12);
    }

    #[test]
    fn images_decode_back_across_block_boundaries() {
        for (width, height) in [(1, 1), (3, 2), (640, 400), (100, 219)] {
            let pixels: Vec<u8> = (0..width * height * 3)
                .map(|i| (i * 7 % 251) as u8)
                .collect();
            let png = encode_rgb(width, height, &pixels);
            assert_eq!(decode(&png), (width, height, pixels), "{width}x{height}");
        }
    }
}
