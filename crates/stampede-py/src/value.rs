//! Python values to msgpack and back, for what a locustfile sends between master and
//! workers (`send_message`, `report_to_master`): the types msgpack carries, as Locust's
//! `msgpack.dumps` takes them (tuples become lists; any other object is refused by name).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use rmpv::Value;

/// Deeper than this is refused both ways: a peer's nesting cannot exhaust the stack.
const MAX_DEPTH: usize = 256;

/// A Python value as msgpack.
pub fn to_value(v: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_value_at(v, 0)
}

fn to_value_at(v: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "cannot send data nested more than {MAX_DEPTH} deep"
        )));
    }
    if v.is_none() {
        return Ok(Value::Nil);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Boolean(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(PyValueError::new_err(
            "cannot send an int outside msgpack's 64 bits",
        ));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(Value::F64(f.value()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::from(s.to_cow()?.as_ref()));
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Value::Binary(b.as_bytes().to_vec()));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut out = Vec::with_capacity(d.len());
        for (k, x) in d.iter() {
            out.push((to_value_at(&k, depth + 1)?, to_value_at(&x, depth + 1)?));
        }
        return Ok(Value::Map(out));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for x in v.try_iter()? {
            out.push(to_value_at(&x?, depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    Err(PyTypeError::new_err(format!(
        "can not serialize '{}' object: messages carry None, bool, int, float, str, bytes, list, tuple and dict",
        v.get_type().name()?
    )))
}

/// msgpack as a Python value: maps become dicts (any hashable key, as Locust's
/// `strict_map_key=False` reads them), text that is not UTF-8 and extension types become
/// bytes.
pub fn to_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    to_py_at(py, v, 0)
}

fn to_py_at(py: Python<'_>, v: &Value, depth: usize) -> PyResult<Py<PyAny>> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "a message nested more than {MAX_DEPTH} deep"
        )));
    }
    Ok(match v {
        Value::Nil => py.None(),
        Value::Boolean(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(n), _) => n.into_pyobject(py)?.into_any().unbind(),
            (_, Some(n)) => n.into_pyobject(py)?.into_any().unbind(),
            _ => py.None(),
        },
        Value::F32(f) => (*f as f64).into_pyobject(py)?.into_any().unbind(),
        Value::F64(f) => f.into_pyobject(py)?.into_any().unbind(),
        Value::String(s) => match s.as_str() {
            Some(t) => PyString::new(py, t).into_any().unbind(),
            None => PyBytes::new(py, s.as_bytes()).into_any().unbind(),
        },
        Value::Binary(b) => PyBytes::new(py, b).into_any().unbind(),
        Value::Array(a) => {
            let list = PyList::empty(py);
            for x in a {
                list.append(to_py_at(py, x, depth + 1)?)?;
            }
            list.into_any().unbind()
        }
        Value::Map(m) => {
            let dict = PyDict::new(py);
            for (k, x) in m {
                dict.set_item(to_py_at(py, k, depth + 1)?, to_py_at(py, x, depth + 1)?)?;
            }
            dict.into_any().unbind()
        }
        Value::Ext(_, b) => PyBytes::new(py, b).into_any().unbind(),
    })
}
