//! NumPy `.npy` arrays (format versions 1–3) and `.npz` archives of them, for dataset
//! conversion. Only what a dataset needs: C order, little-endian or single-byte numbers.

use anyhow::{Context, bail, ensure};
use std::io::Read;

/// One decoded array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Array {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Data,
}

/// Its elements, widened to what the canonical format stores.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    U8(Vec<u8>),
    F32(Vec<f32>),
    I64(Vec<i64>),
}

impl Data {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::F32(v) => v.len(),
            Self::I64(v) => v.len(),
        }
    }
}

/// Most elements an array may declare (a dataset of 100,000 rows of 4,096 floats).
const MAX_ELEMENTS: usize = 1 << 29;

fn header_value<'a>(header: &'a str, key: &str) -> anyhow::Result<&'a str> {
    let at = header
        .find(&format!("'{key}'"))
        .with_context(|| format!("the .npy header has no '{key}'"))?;
    let rest = &header[at + key.len() + 2..];
    let colon = rest.find(':').context("malformed .npy header")?;
    Ok(rest[colon + 1..].trim_start())
}

/// Parses one `.npy` file.
pub(crate) fn parse(bytes: &[u8]) -> anyhow::Result<Array> {
    ensure!(
        bytes.starts_with(b"\x93NUMPY"),
        "not a .npy file (no \\x93NUMPY magic)"
    );
    ensure!(bytes.len() >= 10, "truncated .npy header");
    let (len, start) = match bytes[6] {
        1 => (
            usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
            10usize,
        ),
        2 | 3 => {
            ensure!(bytes.len() >= 12, "truncated .npy header");
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => bail!(".npy format version {v} is not supported"),
    };
    let end = start.checked_add(len).context("bad .npy header length")?;
    ensure!(bytes.len() >= end, "truncated .npy header");
    let header = std::str::from_utf8(&bytes[start..end]).context(".npy header is not text")?;
    let descr = header_value(header, "descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .context("malformed 'descr'")?;
    let fortran = header_value(header, "fortran_order")?;
    ensure!(
        fortran.starts_with("False"),
        "Fortran-ordered arrays are not supported: save with np.ascontiguousarray"
    );
    let shape_text = header_value(header, "shape")?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .context("malformed 'shape'")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().with_context(|| format!("bad dimension {s:?}")))
        .collect::<anyhow::Result<_>>()?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .with_context(|| format!("shape {shape:?} is too large"))?;
    let body = &bytes[end..];
    let width = match &descr[1..] {
        "u1" | "i1" | "b1" => 1,
        "i2" | "u2" => 2,
        "f4" | "i4" | "u4" => 4,
        "f8" | "i8" | "u8" => 8,
        _ => bail!("dtype {descr:?} is not supported (use uint8, int*, float32 or float64)"),
    };
    ensure!(
        width == 1 || descr.starts_with('<') || descr.starts_with('|'),
        "big-endian dtype {descr:?}: convert with arr.astype(arr.dtype.newbyteorder('<'))"
    );
    ensure!(
        body.len() == n * width,
        "the array holds {} bytes, its header says {n} × {width}",
        body.len()
    );
    let words = |w: usize| body.chunks_exact(w);
    let data = match &descr[1..] {
        "u1" | "b1" => Data::U8(body.to_vec()),
        "i1" => Data::I64(body.iter().map(|&b| i64::from(b as i8)).collect()),
        "i2" => Data::I64(
            words(2)
                .map(|c| i64::from(i16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        "u2" => Data::I64(
            words(2)
                .map(|c| i64::from(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        "i4" => Data::I64(
            words(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
        ),
        "u4" => Data::I64(
            words(4)
                .map(|c| i64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
        ),
        "i8" => Data::I64(
            words(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        ),
        "u8" => Data::I64(
            words(8)
                .map(|c| {
                    let v = u64::from_le_bytes(c.try_into().unwrap_or_default());
                    i64::try_from(v).context("a uint64 label does not fit int64")
                })
                .collect::<anyhow::Result<_>>()?,
        ),
        "f4" => Data::F32(
            words(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        // float64 is narrowed to float32, the canonical feature type.
        "f8" => Data::F32(
            words(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()) as f32)
                .collect(),
        ),
        _ => unreachable!("checked above"),
    };
    Ok(Array { shape, data })
}

/// Arrays `x` and `y` of an `.npz` archive (stored or deflated).
pub(crate) fn parse_npz(bytes: &[u8], x: &str, y: &str) -> anyhow::Result<(Array, Array)> {
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).context("not a .npz (zip) file")?;
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    let mut get = |key: &str| -> anyhow::Result<Array> {
        let name = [format!("{key}.npy"), key.to_string()]
            .into_iter()
            .find(|n| names.contains(n))
            .with_context(|| format!("the archive has no array {key:?}; it holds {names:?}"))?;
        let mut f = zip.by_name(&name)?;
        ensure!(
            f.size() <= (MAX_ELEMENTS * 8 + 4096) as u64,
            "array {key:?} is too large"
        );
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        parse(&buf).with_context(|| format!("array {key:?}"))
    };
    Ok((get(x)?, get(y)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn reads_the_dtypes_a_dataset_uses() {
        let a = parse(&npy("|u1", "(2, 3)", &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(
            (a.shape, a.data),
            (vec![2, 3], Data::U8(vec![1, 2, 3, 4, 5, 6]))
        );
        let f: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            parse(&npy("<f8", "(2,)", &f)).unwrap().data,
            Data::F32(vec![1.5, -2.0])
        );
        let l: Vec<u8> = [7i32, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            parse(&npy("<i4", "(2,)", &l)).unwrap().data,
            Data::I64(vec![7, -1])
        );
    }

    #[test]
    fn refuses_what_it_cannot_read_with_a_reason() {
        let err = |b: &[u8]| parse(b).unwrap_err().to_string();
        assert!(err(b"PK\x03\x04").contains("not a .npy"));
        assert!(err(&npy(">f4", "(1,)", &[0; 4])).contains("big-endian"));
        assert!(err(&npy("<c8", "(1,)", &[0; 8])).contains("not supported"));
        assert!(err(&npy("<f4", "(3,)", &[0; 4])).contains("header says 3"));
        assert!(err(&npy("<f4", "(100000000000, 100000)", &[])).contains("too large"));
        let mut fortran = npy("<f4", "(1,)", &[0; 4]);
        let at = fortran.windows(5).position(|w| w == b"False").unwrap();
        fortran[at..at + 5].copy_from_slice(b"True ");
        assert!(err(&fortran).contains("Fortran"));
        for cut in 0..12 {
            assert!(parse(&npy("|u1", "(4,)", &[1, 2, 3, 4])[..cut]).is_err());
        }
    }
}
