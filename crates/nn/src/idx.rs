//! The IDX file format (MNIST's): a big-endian header — two zero bytes, a
//! type code, the number of dimensions, then each dimension as a `u32` —
//! followed by the data. Only unsigned bytes (type `0x08`, what MNIST and
//! the digits data use) are read; anything else is a typed error.

use std::fmt;
use std::path::{Path, PathBuf};

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions from the header (`[count, rows, cols]` for images).
    pub dims: Vec<usize>,
    /// The elements in row-major order.
    pub data: Vec<u8>,
}

/// Why an IDX file could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum IdxError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The first two bytes are not zero, or the header is cut short.
    BadHeader {
        /// The file.
        path: PathBuf,
    },
    /// A type code other than `0x08` (unsigned byte).
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The type code found.
        code: u8,
    },
    /// The data is shorter or longer than the dimensions say.
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Bytes the dimensions call for (`None` when their product
        /// overflows).
        expected: Option<usize>,
        /// Bytes present after the header.
        found: usize,
    },
}

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdxError::Io { path, source } => write!(f, "IDX file {}: {source}", path.display()),
            IdxError::BadHeader { path } => {
                write!(
                    f,
                    "{} is not an IDX file (bad or short header)",
                    path.display()
                )
            }
            IdxError::UnsupportedType { path, code } => write!(
                f,
                "IDX file {} holds type 0x{code:02x}; only unsigned bytes (0x08) are read",
                path.display()
            ),
            IdxError::SizeMismatch {
                path,
                expected,
                found,
            } => match expected {
                Some(e) => write!(
                    f,
                    "IDX file {}: its dimensions call for {e} bytes of data, it holds {found}",
                    path.display()
                ),
                None => write!(
                    f,
                    "IDX file {}: its dimensions overflow, it holds {found} bytes",
                    path.display()
                ),
            },
        }
    }
}

impl std::error::Error for IdxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IdxError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Parses IDX bytes (`path` only names the file in errors).
///
/// ```
/// use mnemon_nn::idx::parse_idx;
/// let bytes = [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 1, 7, 9];
/// let a = parse_idx(&bytes, "x".as_ref()).unwrap();
/// assert_eq!((a.dims, a.data), (vec![2, 1], vec![7, 9]));
/// assert!(parse_idx(&bytes[..13], "x".as_ref()).is_err());
/// ```
///
/// # Errors
/// [`IdxError::BadHeader`], [`IdxError::UnsupportedType`],
/// [`IdxError::SizeMismatch`].
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray, IdxError> {
    let bad = || IdxError::BadHeader {
        path: path.to_path_buf(),
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad());
    }
    if bytes[2] != 0x08 {
        return Err(IdxError::UnsupportedType {
            path: path.to_path_buf(),
            code: bytes[2],
        });
    }
    let rank = usize::from(bytes[3]);
    let header = 4 + 4 * rank;
    let dims_bytes = bytes.get(4..header).ok_or_else(bad)?;
    let dims: Vec<usize> = dims_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let data = &bytes[header..];
    if expected != Some(data.len()) {
        return Err(IdxError::SizeMismatch {
            path: path.to_path_buf(),
            expected,
            found: data.len(),
        });
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

/// Reads an IDX file of unsigned bytes.
///
/// # Errors
/// [`IdxError::Io`] and the errors of [`parse_idx`].
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, IdxError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| IdxError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_idx(&bytes, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, bytes: &[u8]) -> PathBuf {
        let p = std::env::temp_dir().join(format!("mnemon-idx-{}-{name}", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_what_it_wrote_and_rejects_bad_files() {
        let mut good = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1];
        good.extend([1, 2, 3, 4]);
        let p = write("good", &good);
        let a = read_idx(&p).unwrap();
        assert_eq!(a.dims, vec![2, 2, 1]);
        assert_eq!(a.data, vec![1, 2, 3, 4]);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("magic", vec![1, 0, 8, 1, 0, 0, 0, 0]),
            ("type", vec![0, 0, 0x0d, 1, 0, 0, 0, 0]),
            ("short-header", vec![0, 0, 8, 3, 0, 0]),
            ("short-data", good[..18].to_vec()),
            (
                "huge",
                vec![
                    0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
                ],
            ),
        ];
        for (name, bytes) in cases {
            let err = read_idx(write(name, &bytes)).unwrap_err();
            let ok = match name {
                "magic" | "short-header" => matches!(err, IdxError::BadHeader { .. }),
                "type" => matches!(err, IdxError::UnsupportedType { code: 0x0d, .. }),
                _ => matches!(err, IdxError::SizeMismatch { .. }),
            };
            assert!(ok, "{name}: {err}");
        }
        assert!(matches!(
            read_idx("/nonexistent/x"),
            Err(IdxError::Io { .. })
        ));
    }
}
