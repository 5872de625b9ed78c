//! Lists a page at a time, as API.md sets them: `?limit=` (default 50, at most 200; 0 here means
//! the default) and an opaque cursor. A page is fetched with one row more than asked, which tells
//! whether another page follows.

use crate::Error;
use uuid::Uuid;

pub const DEFAULT: u32 = 50;
pub const MAX: u32 = 200;

/// How many rows a page holds.
pub fn limit(limit: u32) -> Result<i64, Error> {
    match limit {
        0 => Ok(i64::from(DEFAULT)),
        1..=MAX => Ok(i64::from(limit)),
        _ => Err(Error::invalid_field("limit", format!("must be at most {MAX}"))),
    }
}

/// The id the previous page ended on, for lists in id order.
pub fn id_cursor(cursor: &str) -> Result<Option<Uuid>, Error> {
    if cursor.is_empty() {
        return Ok(None);
    }
    Uuid::try_parse(cursor).map(Some).map_err(|_| Error::invalid_field("cursor", "is not a cursor of this list"))
}

/// Cuts rows fetched with `limit + 1` to the page, and answers the next page's cursor.
pub fn cut<T>(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(cursor_of);
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_cut_from_one_row_more_names_the_next() {
        assert_eq!(limit(0).unwrap(), 50);
        assert!(limit(201).is_err());
        assert_eq!(cut(vec![1, 2, 3], 2, ToString::to_string), (vec![1, 2], Some("2".to_owned())));
        assert_eq!(cut(vec![1, 2], 2, ToString::to_string), (vec![1, 2], None));
    }
}
