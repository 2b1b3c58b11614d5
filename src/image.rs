//! Screen images: QEMU's `screendump` output (binary PPM) and the grayscale
//! variants that OCR reads.
//!
//! The NixOS driver prepares its OCR images with ImageMagick; the variants here
//! are the few simple steps that matter for a text console or a plain desktop
//! (grayscale, dark text on a light background, enlarged, black and white), done
//! in a few milliseconds with no external program.

/// An 8-bit RGB image, as `screendump` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rgb {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` pixels of three bytes, rows top to bottom.
    pub pixels: Vec<u8>,
}

/// An 8-bit grayscale image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gray {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Rgb {
    /// Parses a binary PPM (`P6`, maximum value 255), as QEMU's `screendump`
    /// writes; the error says what is wrong.
    pub(crate) fn from_ppm(bytes: &[u8]) -> Result<Rgb, String> {
        let mut header = Header { bytes, at: 0 };
        if header.word()? != b"P6" {
            return Err("not a binary PPM image (no `P6` signature)".to_string());
        }
        let width = header.number()?;
        let height = header.number()?;
        let max = header.number()?;
        if max != 255 {
            return Err(format!("maximum colour value {max}, not 255"));
        }
        if width == 0 || height == 0 {
            return Err(format!("an empty image ({width}x{height})"));
        }
        // One whitespace byte ends the header.
        let data = &bytes[header.at + 1..];
        let size = width as usize * height as usize * 3;
        if data.len() < size {
            return Err(format!(
                "{width}x{height} pixels need {size} bytes, the file has {}",
                data.len()
            ));
        }
        Ok(Rgb {
            width,
            height,
            pixels: data[..size].to_vec(),
        })
    }

    /// The image in gray (ITU-R BT.601 luma).
    pub(crate) fn gray(&self) -> Gray {
        let pixels = self
            .pixels
            .chunks_exact(3)
            .map(|p| {
                let luma = 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
                (luma / 1000) as u8
            })
            .collect();
        Gray {
            width: self.width,
            height: self.height,
            pixels,
        }
    }
}

/// The PPM header reader: words separated by whitespace, `#` comments.
struct Header<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Header<'a> {
    fn word(&mut self) -> Result<&'a [u8], String> {
        loop {
            match self.bytes.get(self.at) {
                Some(b'#') => {
                    while self.bytes.get(self.at).is_some_and(|&b| b != b'\n') {
                        self.at += 1;
                    }
                }
                Some(b) if b.is_ascii_whitespace() => self.at += 1,
                Some(_) => break,
                None => return Err("the PPM header is cut short".to_string()),
            }
        }
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| !b.is_ascii_whitespace())
        {
            self.at += 1;
        }
        if self.at == self.bytes.len() {
            return Err("the PPM header is cut short".to_string());
        }
        Ok(&self.bytes[start..self.at])
    }

    fn number(&mut self) -> Result<u32, String> {
        let word = self.word()?;
        std::str::from_utf8(word)
            .ok()
            .and_then(|text| text.parse().ok())
            .filter(|&n: &u32| n <= 1 << 16)
            .ok_or_else(|| {
                format!(
                    "bad number `{}` in the PPM header",
                    String::from_utf8_lossy(word)
                )
            })
    }
}

impl Gray {
    /// The image as a binary PGM file, which tesseract reads.
    pub(crate) fn to_pgm(&self) -> Vec<u8> {
        let mut out = format!("P5\n{} {}\n255\n", self.width, self.height).into_bytes();
        out.extend_from_slice(&self.pixels);
        out
    }

    /// Inverted if it is mostly dark, so that text is dark on light, as OCR
    /// engines expect (a text console is light on black).
    pub(crate) fn dark_on_light(mut self) -> Gray {
        let sum: u64 = self.pixels.iter().map(|&p| u64::from(p)).sum();
        if sum < 128 * self.pixels.len() as u64 {
            for pixel in &mut self.pixels {
                *pixel = 255 - *pixel;
            }
        }
        self
    }

    /// Each pixel made a `factor` x `factor` square: a console's 8x16 font is
    /// too small for OCR as it is.
    pub(crate) fn enlarged(&self, factor: u32) -> Gray {
        let width = self.width * factor;
        let mut pixels = Vec::with_capacity(self.pixels.len() * (factor * factor) as usize);
        for row in self.pixels.chunks_exact(self.width as usize) {
            let start = pixels.len();
            for &pixel in row {
                pixels.extend(std::iter::repeat_n(pixel, factor as usize));
            }
            for _ in 1..factor {
                pixels.extend_from_within(start..start + width as usize);
            }
        }
        Gray {
            width,
            height: self.height * factor,
            pixels,
        }
    }

    /// Black and white, split halfway between the darkest and the lightest
    /// pixel: anti-aliasing and coloured backgrounds go.
    pub(crate) fn thresholded(mut self) -> Gray {
        let min = self.pixels.iter().copied().min().unwrap_or(0);
        let max = self.pixels.iter().copied().max().unwrap_or(255);
        let middle = ((u16::from(min) + u16::from(max)) / 2) as u8;
        for pixel in &mut self.pixels {
            *pixel = if *pixel > middle { 255 } else { 0 };
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(width: u32, pixels: &[u8]) -> Gray {
        Gray {
            width,
            height: pixels.len() as u32 / width,
            pixels: pixels.to_vec(),
        }
    }

    #[test]
    fn ppm_headers_parse_with_comments_and_errors_say_why() {
        let ppm = b"P6\n# made by QEMU\n2 1\n255\n\x00\x00\x00\xff\x80\x00";
        let image = Rgb::from_ppm(ppm).unwrap();
        assert_eq!((image.width, image.height), (2, 1));
        assert_eq!(image.gray().pixels, [0, 151]);
        let error = |bytes: &[u8]| Rgb::from_ppm(bytes).unwrap_err();
        assert_eq!(
            error(b"P5\n1 1\n255\n\x00"),
            "not a binary PPM image (no `P6` signature)"
        );
        assert_eq!(
            error(b"P6\n2 2\n255\n\x00"),
            "2x2 pixels need 12 bytes, the file has 1"
        );
        assert_eq!(
            error(b"P6\n2 2\n65535\n"),
            "maximum colour value 65535, not 255"
        );
        assert_eq!(error(b"P6\n2"), "the PPM header is cut short");
        assert_eq!(error(b"P6 x 1 255 "), "bad number `x` in the PPM header");
        assert_eq!(error(b"P6 0 1 255 "), "an empty image (0x1)");
    }

    #[test]
    fn variants_enlarge_invert_and_threshold() {
        let image = gray(2, &[10, 200, 30, 40]);
        assert_eq!(
            image.enlarged(2),
            gray(
                4,
                &[
                    10, 10, 200, 200, 10, 10, 200, 200, 30, 30, 40, 40, 30, 30, 40, 40
                ]
            )
        );
        assert_eq!(image.clone().dark_on_light(), gray(2, &[245, 55, 225, 215]));
        assert_eq!(gray(1, &[200, 250]).dark_on_light(), gray(1, &[200, 250]));
        assert_eq!(image.thresholded(), gray(2, &[0, 255, 0, 0]));
        assert_eq!(gray(2, &[1, 2]).to_pgm(), b"P5\n2 1\n255\n\x01\x02");
    }
}
