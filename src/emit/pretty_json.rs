//! Pretty JSON whose one large collection (a plan's targets) is rendered over the cores.
//!
//! A bake file or plan of thousands of targets is mostly those targets: rendering them one
//! after the other leaves the other cores idle for most of the write. Here each member is
//! rendered by serde_json's pretty printer on its own, in chunks spread over the cores, and
//! the chunks are written in order, a few at a time (the whole text is never held at once).
//!
//! The text is byte for byte what `serde_json::to_writer_pretty` writes for the whole
//! value: a member rendered alone is the same text as inside the whole but for its
//! indentation, which [`Indented`] adds after each line break (pretty JSON has line breaks
//! only between tokens: serde_json escapes one inside a string).

use std::io::{self, Write};

use serde::Serialize;

use crate::parallel;

/// The large collection's JSON type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collection {
    /// `[value, ...]`.
    Array,
    /// `{"key": value, ...}` (members written with [`write_member`]).
    Object,
}

/// Members rendered per chunk (one chunk is one task for a core).
const MEMBERS_PER_CHUNK: usize = 128;
/// Chunks rendered per core before they are written: bounds the text held at once.
const CHUNKS_PER_CORE: usize = 2;
/// The indentation of the collection's members: the collection is a field of the top level.
const MEMBER_INDENT: &[u8] = b"    ";

/// Writes `head` (a struct) with one more field, last: `key`, holding one member per item,
/// as `serde_json::to_writer_pretty` would write the whole. `render` writes an item's
/// member as `to_writer_pretty` writes a value at the top level.
pub fn write_with_collection<H: Serialize, T: Sync>(
    out: &mut (impl Write + ?Sized),
    head: &H,
    key: &str,
    collection: Collection,
    items: &[T],
    render: impl Fn(&T, &mut dyn Write) -> io::Result<()> + Sync + Send,
) -> io::Result<()> {
    let head = serde_json::to_vec_pretty(head)?;
    // A struct with fields ends with "\n}"; one without is "{}".
    match head.strip_suffix(b"\n}") {
        Some(fields) => {
            out.write_all(fields)?;
            out.write_all(b",\n  ")?;
        }
        None => out.write_all(b"{\n  ")?,
    }
    serde_json::to_writer(&mut *out, key)?;
    let (open, close) = match collection {
        Collection::Array => (b"[", b"]"),
        Collection::Object => (b"{", b"}"),
    };
    out.write_all(b": ")?;
    out.write_all(open)?;
    let chunks: Vec<(usize, &[T])> = items
        .chunks(MEMBERS_PER_CHUNK)
        .enumerate()
        .map(|(i, chunk)| (i * MEMBERS_PER_CHUNK, chunk))
        .collect();
    for wave in chunks.chunks(CHUNKS_PER_CORE * rayon::current_num_threads()) {
        let rendered = parallel::map(wave, 1, |&(first, chunk)| {
            let mut text = Vec::with_capacity(chunk.len() * 768);
            for (i, item) in chunk.iter().enumerate() {
                text.extend_from_slice(if first + i == 0 { b"\n" } else { b",\n" });
                text.extend_from_slice(MEMBER_INDENT);
                render(
                    item,
                    &mut Indented {
                        out: &mut text,
                        indent: MEMBER_INDENT,
                    },
                )?;
            }
            Ok::<_, io::Error>(text)
        });
        for text in rendered {
            out.write_all(&text?)?;
        }
    }
    if !items.is_empty() {
        out.write_all(b"\n  ")?;
    }
    out.write_all(close)?;
    out.write_all(b"\n}")
}

/// Writes an object member, `"key": value`, as pretty JSON.
pub fn write_member(out: &mut dyn Write, key: &str, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, key)?;
    out.write_all(b": ")?;
    serde_json::to_writer_pretty(out, value)?;
    Ok(())
}

/// Text written with `indent` after every line break.
struct Indented<'a> {
    out: &'a mut Vec<u8>,
    indent: &'a [u8],
}

impl Write for Indented<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // serde_json writes a line break on its own, and most pieces hold none.
        if !buf.contains(&b'\n') {
            self.out.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let mut lines = buf.split(|&b| b == b'\n');
        if let Some(first) = lines.next() {
            self.out.extend_from_slice(first);
        }
        for line in lines {
            self.out.push(b'\n');
            self.out.extend_from_slice(self.indent);
            self.out.extend_from_slice(line);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Head {
        name: &'static str,
        count: usize,
    }

    #[derive(Serialize)]
    struct Whole<T> {
        name: &'static str,
        count: usize,
        members: T,
    }

    fn member(i: usize) -> BTreeMap<String, serde_json::Value> {
        let mut m = BTreeMap::new();
        m.insert("index".to_string(), serde_json::json!(i));
        m.insert(
            "lines".to_string(),
            serde_json::json!(["a\nb", {"nested": [1, {}], "empty": []}]),
        );
        m
    }

    fn ours(collection: Collection, n: usize) -> String {
        let items: Vec<usize> = (0..n).collect();
        let mut out = Vec::new();
        write_with_collection(
            &mut out,
            &Head {
                name: "x",
                count: n,
            },
            "members",
            collection,
            &items,
            |&i, out| match collection {
                Collection::Array => Ok(serde_json::to_writer_pretty(out, &member(i))?),
                Collection::Object => write_member(out, &format!("m{i:05}"), &member(i)),
            },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn by_serde_json(collection: Collection, n: usize) -> String {
        let whole = |members| Whole {
            name: "x",
            count: n,
            members,
        };
        match collection {
            Collection::Array => serde_json::to_string_pretty(&whole(
                serde_json::to_value((0..n).map(member).collect::<Vec<_>>()).unwrap(),
            )),
            Collection::Object => serde_json::to_string_pretty(&whole(
                serde_json::to_value(
                    (0..n)
                        .map(|i| (format!("m{i:05}"), member(i)))
                        .collect::<BTreeMap<_, _>>(),
                )
                .unwrap(),
            )),
        }
        .unwrap()
    }

    #[test]
    fn the_text_is_serde_jsons_for_the_whole() {
        // Empty, one chunk, several waves of chunks.
        for n in [0, 1, 3, MEMBERS_PER_CHUNK + 1, MEMBERS_PER_CHUNK * 9 + 7] {
            for collection in [Collection::Array, Collection::Object] {
                assert_eq!(
                    ours(collection, n),
                    by_serde_json(collection, n),
                    "{collection:?} of {n}"
                );
            }
        }
    }

    #[test]
    fn a_head_without_fields() {
        #[derive(Serialize)]
        struct Empty {}
        #[derive(Serialize)]
        struct Only {
            items: Vec<u8>,
        }
        let mut out = Vec::new();
        write_with_collection(
            &mut out,
            &Empty {},
            "items",
            Collection::Array,
            &[1u8, 2],
            |i, out| Ok(serde_json::to_writer_pretty(out, i)?),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string_pretty(&Only { items: vec![1, 2] }).unwrap()
        );
    }
}
