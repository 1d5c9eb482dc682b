//! Checkpoints in the safetensors format (readable by PyTorch, candle and
//! numpy), saved atomically and loaded with every name, shape and dtype
//! checked.

use crate::module::Module;
use mnemon_tensor::{DType, Element, Tensor};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::{SafeTensorError, SafeTensors};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A tensor whose stored shape differs from the model's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The parameter name.
    pub name: String,
    /// The model's shape.
    pub expected: Vec<usize>,
    /// The file's shape.
    pub found: Vec<usize>,
}

/// A tensor whose stored dtype differs from the model's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtypeMismatch {
    /// The parameter name.
    pub name: String,
    /// The model's dtype.
    pub expected: DType,
    /// The file's dtype, as safetensors names it.
    pub found: String,
}

/// Why a checkpoint could not be saved or loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Reading, writing, syncing or renaming failed.
    Io {
        /// The file involved.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The file is not valid safetensors (truncated, corrupt header, ...).
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the safetensors reader found.
        source: SafeTensorError,
    },
    /// The model names two params alike (a hand-written `visit` that
    /// repeats a name): saving would keep one, loading would copy it into
    /// both, so neither is done.
    DuplicateName {
        /// The name given twice.
        name: String,
    },
    /// The file is valid but does not fit the model; every difference is listed.
    Mismatch {
        /// Params of the model missing from the file.
        missing: Vec<String>,
        /// Tensors in the file the model does not have.
        unexpected: Vec<String>,
        /// Tensors with the wrong shape.
        wrong_shape: Vec<ShapeMismatch>,
        /// Tensors with the wrong dtype.
        wrong_dtype: Vec<DtypeMismatch>,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io { path, source } => {
                write!(f, "checkpoint {}: {source}", path.display())
            }
            CheckpointError::Corrupt { path, source } => {
                write!(
                    f,
                    "checkpoint {} is not a valid safetensors file: {source}",
                    path.display()
                )
            }
            CheckpointError::DuplicateName { name } => write!(
                f,
                "the model names two parameters `{name}`; a checkpoint needs unique names"
            ),
            CheckpointError::Mismatch {
                missing,
                unexpected,
                wrong_shape,
                wrong_dtype,
            } => {
                write!(f, "checkpoint does not fit the model:")?;
                for n in missing {
                    write!(f, " missing `{n}`;")?;
                }
                for n in unexpected {
                    write!(f, " unexpected `{n}`;")?;
                }
                for m in wrong_shape {
                    write!(
                        f,
                        " `{}` has shape {:?} in the file, {:?} in the model;",
                        m.name, m.found, m.expected
                    )?;
                }
                for m in wrong_dtype {
                    write!(
                        f,
                        " `{}` is {} in the file, {} in the model;",
                        m.name, m.found, m.expected
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { source, .. } => Some(source),
            CheckpointError::Corrupt { source, .. } => Some(source),
            CheckpointError::DuplicateName { .. } | CheckpointError::Mismatch { .. } => None,
        }
    }
}

fn st_dtype(d: DType) -> Dtype {
    match d {
        DType::F32 => Dtype::F32,
        _ => Dtype::F64,
    }
}

fn to_bytes<T: Element>(t: &Tensor<T>) -> Vec<u8> {
    let v = t.to_vec();
    match T::DTYPE {
        DType::F32 => v
            .iter()
            .flat_map(|x| (x.as_f64() as f32).to_le_bytes())
            .collect(),
        _ => v.iter().flat_map(|x| x.as_f64().to_le_bytes()).collect(),
    }
}

fn from_bytes<T: Element>(b: &[u8]) -> Vec<T> {
    match T::DTYPE {
        DType::F32 => b
            .chunks_exact(4)
            .map(|c| T::of_f64(f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64))
            .collect(),
        _ => b
            .chunks_exact(8)
            .map(|c| T::of_f64(f64::from_le_bytes(c.try_into().expect("8 bytes"))))
            .collect(),
    }
}

/// Saves every param of `model` to `path` in safetensors format,
/// atomically: the bytes go to a temporary file in the same directory,
/// which is synced and then renamed over `path`, so a crash mid-save leaves
/// the previous file intact.
///
/// # Errors
/// [`CheckpointError::Io`] when the file cannot be written;
/// [`CheckpointError::DuplicateName`] when the model names two params
/// alike (nothing is written).
pub fn save<T: Element, M: Module<T> + ?Sized>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    save_with(model, path.as_ref(), || Ok(()))
}

/// The first name `model` gives to two params, if any.
fn duplicate_name<T: Element, M: Module<T> + ?Sized>(model: &M) -> Result<(), CheckpointError> {
    let mut seen = std::collections::HashSet::new();
    let mut dup = None;
    model.visit("", &mut |n, _| {
        if dup.is_none() && !seen.insert(n.to_string()) {
            dup = Some(n.to_string());
        }
    });
    match dup {
        Some(name) => Err(CheckpointError::DuplicateName { name }),
        None => Ok(()),
    }
}

/// A temporary file name beside `name`, unique per call: the process id,
/// a per-process counter and the clock, so two threads (or processes)
/// saving to one path at once never share a temporary file.
fn temp_name(name: &str) -> String {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(".{name}.tmp-{}-{call}-{nanos}", std::process::id())
}

/// An error mapper naming `p`.
fn io(p: &Path) -> impl Fn(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: p.to_path_buf(),
        source,
    }
}

/// `save` with a step run between writing the temporary file and renaming
/// it (tests inject a failure there).
pub(crate) fn save_with<T: Element, M: Module<T> + ?Sized>(
    model: &M,
    path: &Path,
    before_rename: impl FnOnce() -> std::io::Result<()>,
) -> Result<(), CheckpointError> {
    duplicate_name(model)?;
    let mut named: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    model.visit("", &mut |n, p| {
        named.insert(n.to_string(), (p.shape().to_vec(), to_bytes(&p.value)));
    });
    let views: Vec<(String, TensorView<'_>)> = named
        .iter()
        .map(|(n, (s, b))| {
            (
                n.clone(),
                TensorView::new(st_dtype(T::DTYPE), s.clone(), b).expect("sizes match"),
            )
        })
        .collect();
    let bytes = safetensors::serialize(views, None).map_err(|source| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(temp_name(&name));
    let result = (|| {
        // create_new: never write into a file someone else made
        let mut f = std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(&bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        before_rename().map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))?;
        // make the rename itself durable
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Loads `path` into `model`. Every name, shape and dtype is checked first;
/// on any difference nothing is changed and the error lists them all.
///
/// # Errors
/// [`CheckpointError::Io`], [`CheckpointError::Corrupt`] for a truncated or
/// corrupt file, [`CheckpointError::Mismatch`] listing every difference,
/// [`CheckpointError::DuplicateName`] when the model names two params alike.
pub fn load<T: Element, M: Module<T> + ?Sized>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    duplicate_name(&*model)?;
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let st = SafeTensors::deserialize(&bytes).map_err(|source| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        source,
    })?;
    let mut missing = Vec::new();
    let mut wrong_shape = Vec::new();
    let mut wrong_dtype = Vec::new();
    let mut wanted = Vec::new();
    model.visit("", &mut |n, p| {
        wanted.push(n.to_string());
        match st.tensor(n) {
            Err(_) => missing.push(n.to_string()),
            Ok(view) => {
                if view.dtype() != st_dtype(T::DTYPE) {
                    wrong_dtype.push(DtypeMismatch {
                        name: n.to_string(),
                        expected: T::DTYPE,
                        found: format!("{:?}", view.dtype()),
                    });
                } else if view.shape() != p.shape() {
                    wrong_shape.push(ShapeMismatch {
                        name: n.to_string(),
                        expected: p.shape().to_vec(),
                        found: view.shape().to_vec(),
                    });
                }
            }
        }
    });
    let mut untracked = Vec::new();
    model.visit_untracked("", &mut |n| untracked.push(n.to_string()));
    let mut unexpected: Vec<String> = st
        .names()
        .into_iter()
        .filter(|n| !wanted.iter().any(|w| w == n))
        // state the model declares it does not keep (PyTorch's
        // `num_batches_tracked`) is accepted by name, nothing else
        .filter(|n| !untracked.iter().any(|u| u == n))
        .map(String::from)
        .collect();
    unexpected.sort();
    if !(missing.is_empty()
        && unexpected.is_empty()
        && wrong_shape.is_empty()
        && wrong_dtype.is_empty())
    {
        return Err(CheckpointError::Mismatch {
            missing,
            unexpected,
            wrong_shape,
            wrong_dtype,
        });
    }
    model.visit_mut("", &mut |n, p| {
        let view = st.tensor(n).expect("checked above");
        p.value = Tensor::from_vec(from_bytes(view.data()), view.shape())
            .expect("safetensors checked the size");
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Linear;
    use rand::SeedableRng;

    #[test]
    fn failure_before_rename_keeps_the_old_file() {
        let dir = std::env::temp_dir().join(format!("mnemon-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let old = Linear::<f32>::new(3, 2, &mut rng);
        save(&old, &path).unwrap();
        let new = Linear::<f32>::new(3, 2, &mut rng);
        let err = save_with(&new, &path, || Err(std::io::Error::other("power cut"))).unwrap_err();
        assert!(matches!(err, CheckpointError::Io { .. }));
        let mut back = Linear::<f32>::new(3, 2, &mut rng);
        load(&mut back, &path).unwrap();
        assert_eq!(back.weight.value.to_vec(), old.weight.value.to_vec());
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "the temporary file is removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
