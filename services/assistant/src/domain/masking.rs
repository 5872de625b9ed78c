//! Masking of what a visitor typed, before it is stored for the statistics or logged: every
//! identifier (URL query, e-mail address, IBAN, payment card, IP address, phone number) becomes a
//! placeholder naming its kind, so the text keeps what it asked and loses who asked it.
//!
//! Each kind has its own scanner over the text's chars (no regex, no byte index to land inside a
//! multi-byte char). The kinds are masked one after the other, the longer or more specific first,
//! so that a longer identifier is never cut into a shorter kind: an IBAN's digits are no phone
//! number, an e-mail address in a URL's query is gone with the query.

use std::ops::Range;

/// Every placeholder `mask` writes (a URL's query becomes `?[query]`).
pub const PLACEHOLDERS: [&str; 6] = ["[query]", "[email]", "[iban]", "[card]", "[ip]", "[phone]"];

/// Where the identifiers of one kind are in a text, as ranges of char indices, in order.
type Finder = fn(&[char]) -> Vec<Range<usize>>;

/// The kinds in the order they are masked, each with what replaces it.
const PASSES: [(Finder, &str); 6] = [
    (url_queries, "?[query]"),
    (emails, "[email]"),
    (|chars| anchored(chars, iban_at), "[iban]"),
    (|chars| anchored(chars, card_at), "[card]"),
    (|chars| anchored(chars, ip_at), "[ip]"),
    (|chars| anchored(chars, phone_at), "[phone]"),
];

/// Chars that join the parts of a number (`12/05/2026`, `v2.1.3`, `12:30`, `1,5`): an identifier
/// does not start or end next to one that leads to more digits, or it would be a number's piece.
const NUMBER_JOINERS: [char; 4] = ['.', ',', '/', ':'];

const URL_PREFIXES: [&str; 3] = ["https://", "http://", "www."];
/// Sentence punctuation that ends a URL rather than belonging to it.
const URL_TRAILERS: [char; 7] = ['.', ',', ';', ':', '!', '?', ')'];

const IBAN_LENGTHS: Range<usize> = 15..35;
const CARD_DIGITS: Range<usize> = 13..20;
const PHONE_DIGITS: Range<usize> = 8..16;

/// The text with every identifier replaced by a placeholder naming its kind.
pub fn mask(text: &str) -> String {
    PASSES.iter().fold(text.to_owned(), |text, (find, placeholder)| {
        let chars: Vec<char> = text.chars().collect();
        replace(&chars, &find(&chars), placeholder)
    })
}

/// The chars with each of the ranges, in order and apart, replaced by the placeholder.
fn replace(chars: &[char], found: &[Range<usize>], placeholder: &str) -> String {
    let mut masked = String::with_capacity(chars.len() + placeholder.len() * found.len());
    let mut found = found.iter().peekable();
    for (index, &c) in chars.iter().enumerate() {
        while found.next_if(|range| range.end <= index).is_some() {}
        match found.peek() {
            Some(range) if range.start == index => masked.push_str(placeholder),
            Some(range) if range.start < index => {}
            _ => masked.push(c),
        }
    }
    masked
}

/// The identifiers `at` finds, tried at every char not already inside one.
fn anchored(chars: &[char], at: fn(&[char], usize) -> Option<usize>) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        match at(chars, start) {
            Some(end) if end > start => {
                found.push(start..end);
                start = end;
            }
            _ => start += 1,
        }
    }
    found
}

// --- URLs ---------------------------------------------------------------------------------------

/// The queries and fragments of the URLs in the text: they carry what identifies a visitor (an
/// order number, an e-mail address, a token), where the scheme, host and path say what was
/// looked at.
fn url_queries(chars: &[char]) -> Vec<Range<usize>> {
    anchored(chars, url_at)
        .into_iter()
        .filter_map(|url| {
            let query = url.clone().find(|&index| matches!(chars.get(index), Some('?' | '#')))?;
            // A lone `#` or `?` hides nothing.
            (query + 1 < url.end).then_some(query..url.end)
        })
        .collect()
}

fn url_at(chars: &[char], start: usize) -> Option<usize> {
    if nth_before(chars, start, 1).is_some_and(is_word) {
        return None;
    }
    let prefix = URL_PREFIXES.iter().find(|prefix| starts_with(chars, start, prefix))?;
    let body = start + prefix.chars().count();
    let mut end = run_end(chars, start, usize::MAX, |c| !ends_url(c));
    while end > body && chars.get(end - 1).is_some_and(|c| URL_TRAILERS.contains(c)) {
        end -= 1;
    }
    (end > body).then_some(end)
}

const fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`')
}

// --- E-mail addresses ---------------------------------------------------------------------------

/// Found from their `@`, which is in no local part nor domain: each char is looked at from one
/// `@` at most, and the scan stays linear.
fn emails(chars: &[char]) -> Vec<Range<usize>> {
    let mut found: Vec<Range<usize>> = Vec::new();
    for (at, _) in chars.iter().enumerate().filter(|&(_, &c)| c == '@') {
        let floor = found.last().map_or(0, |last| last.end);
        if let Some(email) = email_around(chars, at, floor) {
            found.push(email);
        }
    }
    found
}

fn email_around(chars: &[char], at: usize, floor: usize) -> Option<Range<usize>> {
    let mut start = at;
    // No local part holds two dots in a row: before them is the sentence (`euh...jean@`).
    while start > floor
        && nth_before(chars, start, 1).is_some_and(is_local)
        && !(nth_before(chars, start, 1) == Some('.') && chars.get(start) == Some(&'.'))
    {
        start -= 1;
    }
    // Dashes or a dot before the first letter are the sentence's (`--jean@exemple.fr`).
    while start < at && !chars.get(start).is_some_and(|c| c.is_alphanumeric()) {
        start += 1;
    }
    if start == at {
        return None;
    }
    Some(start..domain_end(chars, at + 1)?)
}

fn is_local(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

/// The end of a domain of at least two labels starting at `from`; a dot after its last label is
/// the sentence's.
fn domain_end(chars: &[char], from: usize) -> Option<usize> {
    let is_domain = |c: char| c.is_alphanumeric() || c == '-';
    let mut end = from;
    let mut labels = 0;
    let mut last_label = from..from;
    loop {
        let label_end = run_end(chars, end, usize::MAX, is_domain);
        if label_end == end {
            break;
        }
        labels += 1;
        last_label = end..label_end;
        end = label_end;
        if chars.get(end) == Some(&'.') && chars.get(end + 1).is_some_and(|&c| is_domain(c)) {
            end += 1;
        } else {
            break;
        }
    }
    let top_level = chars.get(last_label)?;
    (labels >= 2 && top_level.len() >= 2 && top_level.iter().all(|c| c.is_alphabetic())).then_some(end)
}

// --- IBANs --------------------------------------------------------------------------------------

/// An IBAN in one block or in groups of four, whose check digits hold.
fn iban_at(chars: &[char], start: usize) -> Option<usize> {
    let &[country_1, country_2, check_1, check_2] = chars.get(start..start + 4)? else {
        return None;
    };
    let starts_iban = country_1.is_ascii_alphabetic()
        && country_2.is_ascii_alphabetic()
        && check_1.is_ascii_digit()
        && check_2.is_ascii_digit();
    if !starts_iban || !free_before(chars, start) {
        return None;
    }
    let block_end = run_end(chars, start, IBAN_LENGTHS.end, |c| c.is_ascii_alphanumeric());
    let mut compact = chars.get(start..block_end)?.to_vec();
    if compact.len() > 4 {
        return (iban_checks(&compact) && free_after(chars, block_end)).then_some(block_end);
    }
    // In groups, the last one may be short, and where the IBAN ends is known only from its check
    // digits (the next word may be four letters too): the longest valid end wins.
    let mut end = block_end;
    let mut longest = None;
    while chars.get(end) == Some(&' ') {
        let group_end = run_end(chars, end + 1, 5, |c| c.is_ascii_alphanumeric());
        let group = chars.get(end + 1..group_end)?;
        if group.is_empty() || group.len() > 4 || compact.len() + group.len() >= IBAN_LENGTHS.end {
            break;
        }
        compact.extend_from_slice(group);
        end = group_end;
        if iban_checks(&compact) && free_after(chars, end) {
            longest = Some(end);
        }
        if group.len() < 4 {
            break;
        }
    }
    longest
}

/// The ISO 13616 check: the country and check digits moved to the end, letters read as 10 to 35,
/// the number is 1 modulo 97.
fn iban_checks(compact: &[char]) -> bool {
    if !IBAN_LENGTHS.contains(&compact.len()) {
        return false;
    }
    let Some((head, account)) = compact.split_at_checked(4) else {
        return false;
    };
    let remainder = account.iter().chain(head).try_fold(0, |remainder, c| {
        let value = c.to_digit(36)?;
        let shift = if value < 10 { 10 } else { 100 };
        Some((remainder * shift + value) % 97)
    });
    remainder == Some(1)
}

// --- Payment cards ------------------------------------------------------------------------------

/// A card number in one block or in groups, passing the Luhn check.
fn card_at(chars: &[char], start: usize) -> Option<usize> {
    // No issuer number starts with 0, French phone numbers all do.
    if chars.get(start) == Some(&'0') || !free_before(chars, start) {
        return None;
    }
    let mut digits = Vec::with_capacity(CARD_DIGITS.end);
    let mut end = start;
    let mut longest = None;
    loop {
        let group_end = run_end(chars, end, CARD_DIGITS.end, |c| c.is_ascii_digit());
        let group = chars.get(end..group_end)?;
        if group.is_empty() || digits.len() + group.len() >= CARD_DIGITS.end {
            break;
        }
        digits.extend(group.iter().filter_map(|c| c.to_digit(10)));
        end = group_end;
        if CARD_DIGITS.contains(&digits.len()) && luhn(&digits) && free_after(chars, end) {
            longest = Some(end);
        }
        // Cards are grouped by four to six (4-4-4-4, 4-6-5); a shorter group is a phone number's.
        let grouped = (4..=6).contains(&group.len());
        match chars.get(end) {
            Some(' ' | '-') if grouped && chars.get(end + 1).is_some_and(char::is_ascii_digit) => {
                end += 1;
            }
            _ => break,
        }
    }
    longest
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(position, &digit)| match (position % 2, digit * 2) {
            (0, _) => digit,
            (_, doubled) if doubled > 9 => doubled - 9,
            (_, doubled) => doubled,
        })
        .sum();
    sum.is_multiple_of(10)
}

// --- IP addresses -------------------------------------------------------------------------------

fn ip_at(chars: &[char], start: usize) -> Option<usize> {
    if !free_before(chars, start) {
        return None;
    }
    let ipv6 = ipv6_at(chars, start).filter(|&end| free_after(chars, end));
    // An IPv4 address may come with its port, `8.8.8.8:53`, as no number would with a colon.
    ipv6.or_else(|| ipv4_at(chars, start).filter(|&end| free_after(chars, end) || chars.get(end) == Some(&':')))
}

fn ipv4_at(chars: &[char], start: usize) -> Option<usize> {
    let mut end = octet_end(chars, start)?;
    for _ in 0..3 {
        if chars.get(end) != Some(&'.') {
            return None;
        }
        end = octet_end(chars, end + 1)?;
    }
    Some(end)
}

fn octet_end(chars: &[char], from: usize) -> Option<usize> {
    let end = run_end(chars, from, 4, |c| c.is_ascii_digit());
    let digits = chars.get(from..end)?;
    ((1..=3).contains(&digits.len()) && value(digits) <= 255).then_some(end)
}

/// Eight groups of hexadecimal digits, or fewer around one `::`, the last two possibly written as
/// an IPv4 address (`::ffff:192.0.2.1`).
fn ipv6_at(chars: &[char], start: usize) -> Option<usize> {
    // A group after a colon is the middle of something colon-separated, and no address.
    let after_group = nth_before(chars, start, 1) == Some(':')
        && nth_before(chars, start, 2).is_some_and(|c| c == ':' || c.is_ascii_hexdigit());
    if after_group {
        return None;
    }
    let mut end = start;
    let mut groups = 0;
    let mut compressed = starts_with(chars, start, "::");
    if compressed {
        end += 2;
    }
    loop {
        if (compressed || groups > 0)
            && let Some(ipv4_end) = ipv4_at(chars, end)
        {
            groups += 2;
            end = ipv4_end;
            break;
        }
        let group_end = run_end(chars, end, 5, |c| c.is_ascii_hexdigit());
        match group_end - end {
            0 => break,
            1..=4 => {}
            _ => return None,
        }
        groups += 1;
        end = group_end;
        if groups > 8 {
            return None;
        }
        if starts_with(chars, end, "::") {
            // Two `::` would leave the groups each stands for unknown.
            if compressed {
                return None;
            }
            compressed = true;
            end += 2;
        } else if chars.get(end) == Some(&':') && chars.get(end + 1).is_some_and(char::is_ascii_hexdigit) {
            end += 1;
        } else {
            break;
        }
    }
    // A compressed address has a digit somewhere (`fe80::1`); without one, `a::b` is likelier code.
    let has_digit = chars.get(start..end)?.iter().any(char::is_ascii_digit);
    let valid = if compressed { (1..=7).contains(&groups) && has_digit } else { groups == 8 };
    valid.then_some(end)
}

// --- Phone numbers ------------------------------------------------------------------------------

/// Digits in groups (`06 12 34 56 78`, `+1 (555) 123-4567`), eight to fifteen of them, after an
/// optional `+`; the longest such number that ends cleanly wins.
fn phone_at(chars: &[char], start: usize) -> Option<usize> {
    // Within digits in groups too long for a phone number (a card failing Luhn, a reference), a
    // phone number starts only as the second of two side by side: the rule of `ends_cleanly`.
    let within_groups = matches!(nth_before(chars, start, 1), Some(' ' | '.' | '-'))
        && nth_before(chars, start, 2).is_some_and(|c| c.is_ascii_digit());
    let second_number = nth_before(chars, start, 1) == Some(' ') && chars.get(start) == Some(&'0');
    if (within_groups && !second_number) || !free_before(chars, start) {
        return None;
    }
    let mut end = start;
    let mut open = false;
    match chars.get(start) {
        Some('+') => end += 1,
        Some('(') => {
            open = true;
            end += 1;
        }
        _ => {}
    }
    let mut groups: Vec<Range<usize>> = Vec::new();
    let mut digits = 0;
    let mut longest = None;
    loop {
        let group_end = run_end(chars, end, PHONE_DIGITS.end, |c| c.is_ascii_digit());
        digits += group_end - end;
        if group_end == end || digits >= PHONE_DIGITS.end {
            break;
        }
        groups.push(end..group_end);
        end = group_end;
        let separator = phone_separator(chars, end, open);
        let ends_cleanly = match separator {
            None => free_after(chars, end),
            // Two numbers side by side, the second one starting anew: `0612345678 0698765432`.
            Some((next, _)) => next == end + 1 && chars.get(end) == Some(&' ') && chars.get(next) == Some(&'0'),
        };
        if !open && ends_cleanly && PHONE_DIGITS.contains(&digits) && !is_date(chars, &groups) {
            longest = Some(end);
        }
        let Some((next, still_open)) = separator else {
            break;
        };
        end = next;
        open = still_open;
    }
    longest
}

/// The separator after a phone number's group at `at`, leading to the next group: a space, `.`
/// or `-`, and the parentheses of an area code (`(555) 123`, `+33 (0)6`), with whether one is
/// left open.
fn phone_separator(chars: &[char], at: usize, open: bool) -> Option<(usize, bool)> {
    let mut end = at;
    let mut open = open;
    if chars.get(end) == Some(&')') {
        if !open {
            return None;
        }
        open = false;
        end += 1;
    }
    if matches!(chars.get(end), Some(' ' | '.' | '-')) {
        end += 1;
    }
    if chars.get(end) == Some(&'(') {
        if open {
            return None;
        }
        open = true;
        end += 1;
    }
    (end > at && chars.get(end).is_some_and(char::is_ascii_digit)).then_some((end, open))
}

/// Whether the groups read as a date (`12.05.2026`, `2026-05-12`): eight digits too, no phone.
fn is_date(chars: &[char], groups: &[Range<usize>]) -> bool {
    let number = |group: &Range<usize>| chars.get(group.clone()).map_or(0, value);
    let [first, second, third] = groups else {
        return false;
    };
    let (day, month) = match (first.len(), second.len(), third.len()) {
        (2, 2, 4) => (number(first), number(second)),
        (4, 2, 2) => (number(third), number(second)),
        _ => return false,
    };
    // Either order, day-month or month-day.
    let (low, high) = (day.min(month), day.max(month));
    (1..=12).contains(&low) && high <= 31
}

// --- Chars --------------------------------------------------------------------------------------

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn nth_before(chars: &[char], index: usize, n: usize) -> Option<char> {
    index.checked_sub(n).and_then(|before| chars.get(before)).copied()
}

fn starts_with(chars: &[char], start: usize, prefix: &str) -> bool {
    prefix
        .chars()
        .enumerate()
        .all(|(offset, expected)| chars.get(start + offset).is_some_and(|c| c.eq_ignore_ascii_case(&expected)))
}

/// The end of the chars from `from` that `keep` accepts, reading no more than `limit`: a run that
/// long is no identifier already, and reading on from every start would make the scan quadratic.
fn run_end(chars: &[char], from: usize, limit: usize, keep: impl Fn(char) -> bool) -> usize {
    from + chars.iter().skip(from).take(limit).take_while(|&&c| keep(c)).count()
}

/// Whether an identifier may start at `start`: not inside a word, nor inside a number such as the
/// `05` of `12/05/2026` or the `1` of `v2.1`.
fn free_before(chars: &[char], start: usize) -> bool {
    match nth_before(chars, start, 1) {
        Some(c) if is_word(c) => false,
        Some(c) if NUMBER_JOINERS.contains(&c) => !nth_before(chars, start, 2).is_some_and(|c| c.is_ascii_digit()),
        _ => true,
    }
}

/// Whether an identifier may end at `end`, the mirror of `free_before`.
fn free_after(chars: &[char], end: usize) -> bool {
    match chars.get(end) {
        Some(&c) if is_word(c) => false,
        Some(c) if NUMBER_JOINERS.contains(c) => !chars.get(end + 1).is_some_and(char::is_ascii_digit),
        _ => true,
    }
}

/// The number ASCII digits make (at most four of them here).
fn value(digits: &[char]) -> u32 {
    digits.iter().filter_map(|c| c.to_digit(10)).fold(0, |number, digit| number * 10 + digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn masks(text: &str, expected: &str) {
        assert_eq!(mask(text), expected, "masking {text:?}");
    }

    #[track_caller]
    fn keeps(text: &str) {
        masks(text, text);
    }

    // --- e-mail addresses

    #[test]
    fn an_email_address_is_masked() {
        masks("jean.dupont@exemple.fr", "[email]");
    }

    #[test]
    fn an_email_address_with_tags_subdomains_and_capitals_is_masked_whole() {
        masks("Write to Jean.Dupont+shop@Mail.Exemple.co.uk please", "Write to [email] please");
    }

    #[test]
    fn sentence_punctuation_after_an_email_address_is_kept() {
        masks("Mon adresse : jean@exemple.fr.", "Mon adresse : [email].");
        masks("jean@exemple.fr, merci!", "[email], merci!");
        masks("c'est jean@exemple.fr?", "c'est [email]?");
        masks("(jean@exemple.fr)", "([email])");
        masks("jean@exemple.fr!", "[email]!");
    }

    #[test]
    fn dots_before_an_email_address_are_the_sentences() {
        masks("euh...jean@exemple.fr", "euh...[email]");
        masks("--jean@exemple.fr", "--[email]");
    }

    #[test]
    fn an_email_address_with_accents_is_masked() {
        masks("écrivez à josé.núñez@café.fr svp", "écrivez à [email] svp");
    }

    #[test]
    fn a_mention_or_a_bare_at_sign_is_not_an_email_address() {
        keeps("merci @jean, rendez-vous @ 10h");
        keeps("user@localhost");
    }

    // --- URLs

    #[test]
    fn a_urls_query_and_fragment_are_masked_but_its_host_and_path_kept() {
        masks("https://shop.example/track?order=123&email=a@b.c#x", "https://shop.example/track?[query]");
    }

    #[test]
    fn a_url_without_query_is_unchanged() {
        keeps("see https://shop.example/help/returns for details");
        keeps("http://exemple.fr");
    }

    #[test]
    fn a_urls_fragment_alone_is_masked_as_a_query() {
        masks("https://app.example/callback#token=abc123", "https://app.example/callback?[query]");
    }

    #[test]
    fn a_www_url_has_its_query_masked() {
        masks("www.exemple.fr/page?id=42", "www.exemple.fr/page?[query]");
    }

    #[test]
    fn sentence_punctuation_after_a_url_is_kept() {
        masks("Voir https://x.example/a?b=1.", "Voir https://x.example/a?[query].");
        masks("(lien : https://x.example/a?b=1)", "(lien : https://x.example/a?[query])");
        masks("https://x.example/a?b=1, puis", "https://x.example/a?[query], puis");
        masks("Is it https://x.example/faq?", "Is it https://x.example/faq?");
    }

    #[test]
    fn an_email_address_in_a_query_goes_with_the_query() {
        let masked = mask("HTTPS://X.EXAMPLE/unsubscribe?email=jean@exemple.fr&t=1");
        assert_eq!(masked, "HTTPS://X.EXAMPLE/unsubscribe?[query]");
    }

    #[test]
    fn an_ip_address_as_a_urls_host_is_masked() {
        masks("http://192.168.1.20/admin?user=jean", "http://[ip]/admin?[query]");
    }

    #[test]
    fn a_word_merely_containing_www_is_no_url() {
        keeps("awww. so cute?yes");
    }

    // --- IBANs

    #[test]
    fn an_iban_in_groups_of_four_is_masked() {
        masks("IBAN : FR76 3000 6000 0112 3456 7890 189 merci", "IBAN : [iban] merci");
        masks("GB82 WEST 1234 5698 7654 32", "[iban]");
    }

    #[test]
    fn an_iban_in_one_block_is_masked() {
        masks("DE89370400440532013000.", "[iban].");
    }

    #[test]
    fn an_iban_in_lower_case_is_masked() {
        masks("fr76 3000 6000 0112 3456 7890 189", "[iban]");
        masks("gb82west12345698765432", "[iban]");
    }

    #[test]
    fn an_iban_followed_by_a_four_letter_word_ends_at_its_check_digits() {
        masks("GB82 WEST 1234 5698 7654 32 svp", "[iban] svp");
        masks("DE89 3704 0044 0532 0130 00 ok", "[iban] ok");
    }

    #[test]
    fn an_iban_failing_its_check_digits_is_not_masked_as_an_iban() {
        assert!(!mask("FR77 3000 6000 0112 3456 7890 189").contains("[iban]"));
        keeps("DE88370400440532013000");
    }

    // --- payment cards

    #[test]
    fn a_card_number_in_groups_of_four_is_masked() {
        masks("ma carte 4111 1111 1111 1111 expire", "ma carte [card] expire");
        masks("5500-0000-0000-0004", "[card]");
    }

    #[test]
    fn a_card_number_in_one_block_is_masked() {
        masks("card:4111111111111111.", "card:[card].");
    }

    #[test]
    fn an_amex_number_grouped_four_six_five_is_masked() {
        masks("3782 822463 10005", "[card]");
    }

    #[test]
    fn a_thirteen_and_a_nineteen_digit_card_number_are_masked() {
        masks("4222222222222", "[card]");
        masks("4111 1111 1111 1111 003", "[card]");
    }

    #[test]
    fn a_card_number_failing_luhn_is_not_masked_as_a_card() {
        keeps("4111 1111 1111 1112");
        keeps("4111111111111112");
    }

    #[test]
    fn a_number_after_a_card_number_is_kept() {
        masks("4111 1111 1111 1111 2026", "[card] 2026");
    }

    // --- IP addresses

    #[test]
    fn an_ipv4_address_is_masked() {
        masks("mon IP est 192.168.1.20, je crois", "mon IP est [ip], je crois");
        masks("10.0.0.1.", "[ip].");
    }

    #[test]
    fn an_ipv4_address_keeps_its_port() {
        masks("DNS 8.8.8.8:53 down", "DNS [ip]:53 down");
    }

    #[test]
    fn a_dotted_quad_with_a_part_over_255_is_no_ipv4_address() {
        keeps("300.1.1.1 and 1.2.3");
        // Ten digits in groups: a phone number as far as can be told.
        masks("192.168.1.256", "[phone]");
    }

    #[test]
    fn a_longer_dotted_number_is_no_ipv4_address() {
        keeps("1.2.3.4.5.6.7");
    }

    #[test]
    fn an_ipv6_address_is_masked_full_or_compressed() {
        masks("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[ip]");
        masks("from 2001:db8::1 today", "from [ip] today");
        masks("fe80::1ff:fe23:4567:890a.", "[ip].");
        masks("loopback ::1 only", "loopback [ip] only");
        masks("fe80::", "[ip]");
    }

    #[test]
    fn an_ipv6_address_ending_in_ipv4_form_is_masked_whole() {
        masks("::ffff:192.0.2.1", "[ip]");
    }

    #[test]
    fn times_and_code_paths_are_no_ipv6_addresses() {
        keeps("à 12:30, ou 08:15:59");
        keeps("use std::io and fmt::Display, or a::b");
        keeps("00:1a:2b:3c");
    }

    // --- phone numbers

    #[test]
    fn french_national_phone_numbers_are_masked() {
        masks("06 12 34 56 78", "[phone]");
        masks("06.12.34.56.78", "[phone]");
        masks("0612345678", "[phone]");
        masks("01-23-45-67-89", "[phone]");
    }

    #[test]
    fn international_phone_numbers_are_masked() {
        masks("+33 6 12 34 56 78", "[phone]");
        masks("+33612345678", "[phone]");
        masks("0033 6 12 34 56 78", "[phone]");
        masks("+44 20 7946 0958", "[phone]");
        masks("+1 (555) 123-4567", "[phone]");
        masks("+49 30 123456", "[phone]");
        masks("+33 (0)6 12 34 56 78", "[phone]");
    }

    #[test]
    fn a_phone_number_in_parentheses_keeps_them() {
        masks("(06 12 34 56 78)", "([phone])");
        masks("(555) 123-4567 ok", "[phone] ok");
    }

    #[test]
    fn a_phone_number_next_to_punctuation_keeps_it() {
        masks("Tél. : 06 12 34 56 78.", "Tél. : [phone].");
        masks("tel:+33612345678, merci", "tel:[phone], merci");
        masks("appelez le 0612345678 !", "appelez le [phone] !");
    }

    #[test]
    fn two_phone_numbers_side_by_side_are_masked_each() {
        masks("0612345678 0698765432", "[phone] [phone]");
        masks("06 12 34 56 78 06 98 76 54 32", "[phone] [phone]");
    }

    #[test]
    fn short_numbers_are_no_phone_numbers() {
        keeps("commande 12345, en 2026, pour 1 299 €, code postal 75011");
        keeps("ticket #1234567");
    }

    #[test]
    fn dates_are_no_phone_numbers() {
        keeps("le 12/05/2026, le 12.05.2026, le 2026-05-12 ou le 05-12-2026");
        keeps("2026-05-12 10:30");
    }

    #[test]
    fn a_number_glued_to_a_word_is_no_phone_number() {
        keeps("ref0612345678 et 0612345678abc");
    }

    // --- what stays

    #[test]
    fn versions_prices_and_times_stay() {
        keeps("version v2.1.3, build 1.2.3, prix 12,50 € ou 1 299,99 €, à 10h30 ou 12:30");
    }

    #[test]
    fn text_without_identifiers_is_unchanged() {
        keeps("Bonjour, où en est ma commande ? Je l'ai passée hier soir.");
        keeps("");
    }

    // --- mixed texts

    #[test]
    fn several_identifiers_in_a_french_sentence_are_all_masked() {
        masks(
            "Bonjour, je suis jean.dupont@exemple.fr (tél. 06 12 34 56 78), IBAN FR76 3000 6000 0112 3456 7890 189 ; commande 12345.",
            "Bonjour, je suis [email] (tél. [phone]), IBAN [iban] ; commande 12345.",
        );
    }

    #[test]
    fn several_identifiers_in_an_english_sentence_are_all_masked() {
        masks(
            "Hi! My card 4111 1111 1111 1111 was charged twice from 192.168.1.20; call +44 20 7946 0958 or see https://shop.example/orders?id=9#top.",
            "Hi! My card [card] was charged twice from [ip]; call [phone] or see https://shop.example/orders?[query].",
        );
    }

    #[test]
    fn each_kind_is_masked_as_itself_not_as_a_shorter_one() {
        masks("DE89370400440532013000 4111111111111111 192.168.1.20 0612345678", "[iban] [card] [ip] [phone]");
    }

    #[test]
    fn multi_byte_text_around_identifiers_is_kept_exactly() {
        masks(
            "😀 Écrivez-moi à zoë@exemple.fr — ou au 06 12 34 56 78 ✨ 日本語のテキスト",
            "😀 Écrivez-moi à [email] — ou au [phone] ✨ 日本語のテキスト",
        );
        masks("«jean@exemple.fr»", "«[email]»");
        masks("電話0612345678", "電話0612345678");
        masks("電話 0612345678です", "電話 0612345678です");
    }

    #[test]
    fn odd_input_never_panics_and_masking_twice_changes_nothing() {
        let inputs = [
            "@",
            "@@",
            "a@",
            "@b.fr",
            "a@b.",
            "+",
            "+(",
            "(",
            ")",
            "::",
            ":::",
            "1::2::3",
            "http://",
            "https://?",
            "www.",
            "FR76",
            "FR76 ",
            "4111 ",
            "1.",
            "1.2.3.",
            "06 ",
            "é@é.éé",
            "\u{0}\u{10FFFF}",
            "ÿ1.2.3.4ÿ",
            "0612345678\u{301}",
            "…06 12 34 56 78…",
            "a@b.fr@c.fr",
            "+33 (0",
            "(0)6 12 34 56 78",
            "1:2:3:4:5:6:7:8:9",
        ];
        for input in inputs {
            let once = mask(input);
            assert_eq!(mask(&once), once, "masking {input:?} twice");
        }
    }

    #[test]
    fn a_long_input_is_masked_in_linear_time() {
        let nasty = ["a:b:", "1 ", "x@", "a.", "FR76 ", "4111 ", "é", "www.x?"];
        let text: String = nasty.iter().map(|piece| piece.repeat(2_000)).collect();
        let started = std::time::Instant::now();
        mask(&text);
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
    }

    #[test]
    fn every_placeholder_mask_writes_is_listed() {
        for (_, placeholder) in PASSES {
            assert!(PLACEHOLDERS.iter().any(|listed| placeholder.contains(listed)), "{placeholder}");
        }
    }
}
