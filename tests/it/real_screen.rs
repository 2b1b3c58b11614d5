//! The screen, keyboard, OCR, serial-input and tty methods: on the Debian guest
//! (tty1 is an 80x25 text console on bochs-drm, with a getty), on the busybox
//! guest from a Python script, and their driver logic on the fake VM with a fake
//! `tesseract`.

use crate::support::Test;
use std::fs;
use std::path::Path;

/// Width, height and RGB pixels of a PNG as our encoder writes it (8-bit RGB,
/// stored deflate blocks), checking every chunk's CRC, the zlib header, the
/// blocks' lengths and the Adler-32 on the way.
fn decode_png(png: &[u8]) -> (u32, u32, Vec<u8>) {
    let be = |bytes: &[u8]| u32::from_be_bytes(bytes[..4].try_into().unwrap());
    assert_eq!(png[..8], *b"\x89PNG\r\n\x1a\n", "PNG signature");
    let mut rest = &png[8..];
    let mut chunks = Vec::new();
    while !rest.is_empty() {
        let length = be(rest) as usize;
        let body = &rest[4..8 + length];
        assert_eq!(
            crc32(body),
            be(&rest[8 + length..]),
            "CRC of {:?}",
            &body[..4]
        );
        chunks.push((body[..4].to_vec(), body[4..].to_vec()));
        rest = &rest[12 + length..];
    }
    let kinds: Vec<&[u8]> = chunks.iter().map(|(kind, _)| kind.as_slice()).collect();
    assert_eq!(kinds, [&b"IHDR"[..], b"IDAT", b"IEND"]);
    let header = &chunks[0].1;
    let (width, height) = (be(header), be(&header[4..]));
    assert_eq!(header[8..], [8, 2, 0, 0, 0], "8-bit RGB, no interlace");
    let zlib = &chunks[1].1;
    assert_eq!((u32::from(zlib[0]) * 256 + u32::from(zlib[1])) % 31, 0);
    let mut stream = &zlib[2..zlib.len() - 4];
    let mut raw = Vec::new();
    loop {
        let length = usize::from(u16::from_le_bytes([stream[1], stream[2]]));
        assert_eq!(stream[0] >> 1, 0, "a stored block");
        assert_eq!(
            length ^ 0xffff,
            usize::from(u16::from_le_bytes([stream[3], stream[4]]))
        );
        raw.extend_from_slice(&stream[5..5 + length]);
        let last = stream[0] & 1 == 1;
        stream = &stream[5 + length..];
        if last {
            break;
        }
    }
    assert!(stream.is_empty());
    assert_eq!(adler32(&raw), be(&zlib[zlib.len() - 4..]));
    let row = width as usize * 3 + 1;
    assert_eq!(
        raw.len(),
        row * height as usize,
        "width*height*3+height bytes"
    );
    let pixels = raw
        .chunks(row)
        .flat_map(|line| line[1..].to_vec())
        .collect();
    (width, height, pixels)
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    b << 16 | a
}

/// The attributes of the XML `head` whose text is `text`.
fn head_attributes(out: &crate::support::Output, text: &str) -> Vec<(String, String)> {
    out.xml_elements()
        .into_iter()
        .find(|(name, _, body)| name == "head" && body == text)
        .unwrap_or_else(|| panic!("no head {text:?} in the XML log"))
        .1
}

#[test]
fn keys_ocr_screenshots_and_ttys_on_the_debian_console() {
    let out = Test::new()
        .start_script(&crate::real_debian::start_script("machine"))
        .arg("-o")
        .arg("out")
        .script(
            r#"
machine.wait_for_unit "getty@tty1.service"
machine.wait_until_succeeds "cat /sys/class/graphics/fb0/name" == "bochs-drmdrmfb" timeout=60
machine.succeed "cat /sys/class/graphics/fb0/virtual_size" == "640,400"
machine.wait_until_tty_matches 1 "machine login: " timeout=60
machine.get_tty_text 1 contains "vmtest-min Debian guest machine (tty1)"
machine.send_chars "root\n"
machine.wait_until_tty_matches "1" "root@machine:~# " timeout=60
machine.send_chars "echo 'Typed: A-z_0+9 {x}|<y>?' > /tmp/typed\n"
machine.wait_until_succeeds "cat /tmp/typed" == "Typed: A-z_0+9 {x}|<y>?" timeout=30
machine.send_key "a"
machine.send_key "ret" delay=0.1
machine.wait_until_succeeds "fold -w 80 /dev/vcs1" contains "a: command not found" timeout=30
machine.succeed "echo HELLO-OCR-4711 > /dev/tty1"
machine.wait_for_text "HELLO-OCR-4711" timeout=120
machine.get_screen_text_variants contains "HELLO"
machine.screenshot "screen"
machine.dump_tty_contents 1
machine.wait_for_console_text "HELLO-OCR-4711"
# The backdoor's stderr keeps ttyS0 open, so input waits in the tty for head.
machine.execute "timeout 60 head -n 1 /dev/ttyS0 > /tmp/serial-in 2>&1 </dev/null &"
machine.send_console "from the serial side\n"
machine.wait_until_succeeds "cat /tmp/serial-in" == "from the serial side" timeout=30
"#,
        )
        .run();
    out.code(0)
        .stderr_has("sending keys \"root\\n\"")
        .stderr_has("saved the 640x400 screen to out/screen.png")
        .clean();
    let png = fs::read(out.dir().join("out/screen.png")).expect("the screenshot");
    let (width, height, pixels) = decode_png(&png);
    assert_eq!((width, height), (640, 400));
    assert!(
        pixels.iter().any(|&p| p > 128),
        "a lit pixel of the console text"
    );
    let attributes = head_attributes(&out, "making screenshot screen");
    assert!(
        attributes.contains(&("image".to_string(), "screen.png".to_string())),
        "{attributes:?}"
    );
}

#[test]
fn screenshots_ttys_keys_and_serial_input_from_python_on_busybox() {
    let test = Test::new()
        .start_script(&crate::real::start_script("machine"))
        .arg("-o")
        .arg("shots");
    fs::write(
        test.dir().join("test.py"),
        r#"start_all()
machine.succeed("true")
machine.screenshot("boot.png")
assert "machine login:" in machine.get_tty_text(1)
machine.wait_until_tty_matches(1, "vmtest-min busybox guest", timeout=30)
machine.execute("(timeout 60 head -n 1 /dev/ttyS0 > /tmp/serial-in) </dev/null >/dev/null 2>&1 &")
machine.wait_until_succeeds("ps | grep -v grep | grep 'head -n 1'")
machine.send_console("serial-hello\n")
machine.wait_until_succeeds("grep -x serial-hello /tmp/serial-in", timeout=30)
machine.send_key("x", delay=0.05)
machine.send_chars("y\n", delay=0.02)
"#,
    )
    .expect("write test.py");
    let out = test.arg("--").arg("test.py").run();
    out.code(0).clean();
    let (width, height, _) = decode_png(&fs::read(out.dir().join("shots/boot.png")).unwrap());
    assert!(width >= 320 && height >= 200, "{width}x{height}");
}

/// A fake `tesseract` that logs each call and "reads" `variant-N` on its Nth call.
const FAKE_TESSERACT: &str = r#"echo "$1" >> "$(dirname "$0")/calls"
n=$(wc -l < "$(dirname "$0")/calls")
echo "variant-$n" > "$2.txt""#;

fn calls(dir: &Path) -> usize {
    fs::read_to_string(dir.join("fake-bin/calls"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn wait_for_text_stops_at_the_first_variant_that_matches_and_passes_the_check() {
    let out = Test::new()
        .fake("machine", &[])
        .fake_program("tesseract", FAKE_TESSERACT)
        .script("machine.start\nmachine.wait_for_text \"variant\" == \"variant-2\" timeout=30\n")
        .run();
    out.code(0).clean();
    assert_eq!(calls(out.dir()), 2);
}

#[test]
fn wait_for_text_does_not_read_an_unchanged_screen_again() {
    let out = Test::new()
        .fake("machine", &[])
        .fake_program("tesseract", FAKE_TESSERACT)
        .script("machine.start\nmachine.wait_for_text \"never\" timeout=3\n")
        .run();
    out.code(1)
        .stderr_has("timed out after 3 s waiting for `never` to appear on the screen")
        .stderr_has("looks at the screen, 1 different screens read by OCR")
        .stderr_has("(as is variant) variant-3")
        .clean();
    // The fake's screen never changes: one screen read, by three variants.
    assert_eq!(calls(out.dir()), 3);
}

#[test]
fn ocr_without_tesseract_names_the_package_and_a_screenshot_needs_no_program() {
    let test = Test::new().fake("machine", &[]);
    // Only bash (for the fake VM's start script and its guest shell) on PATH.
    let bin = test.dir().join("only-bash");
    fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/bash", bin.join("bash")).unwrap();
    let out = test
        .env("PATH", &bin.display().to_string())
        .script("machine.start\nmachine.screenshot \"shot\"\nmachine.get_screen_text\n")
        .run();
    out.code(3)
        .stderr_has(
            "machine: `tesseract` is not on PATH; reading text on the screen (OCR) needs it \
             (Debian package `tesseract-ocr`)",
        )
        .clean();
    let png = fs::read(out.dir().join("shot.png")).expect("shot.png in the current directory");
    assert_eq!(decode_png(&png), (2, 2, vec![0; 12]));
}

#[test]
fn an_unknown_key_is_refused_with_qemus_answer() {
    let out = Test::new()
        .fake("machine", &[])
        .script("machine.start\nmachine.send_key \"ctrl-alt-del\"\n")
        .run();
    out.code(1)
        .stderr_has("machine: QEMU refused key `ctrl-alt-del`: invalid parameter: del")
        .clean();
}
