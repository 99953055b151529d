//! The paper exchange's wire helpers: request parameters as Binance reads them (query string and
//! form body, the query winning), and JSON written field by field in Binance's own order.

use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::reply::Reply;

/// The parameters of one request, decoded, with where each came from.
#[derive(Debug, Default)]
pub(crate) struct Params {
    /// (name, value, from the query string)
    pairs: Vec<(String, String, bool)>,
    /// The signature as sent (decoded), if any.
    pub(crate) signature: Option<String>,
    /// What was signed: the raw query string and body, the `signature` pair taken out.
    pub(crate) payload: Vec<u8>,
}

/// At most this many parameters per request (Binance answers -1101 beyond its own limit).
const MAX_PARAMS: usize = 64;

impl Params {
    /// Reads `query` and a form `body`. A parameter twice in the same place is -1101, as on
    /// Binance; one in both places takes the query's value.
    pub(crate) fn parse(query: &str, body: &[u8]) -> Result<Self, Reply> {
        let body = std::str::from_utf8(body)
            .map_err(|_| Reply::error(400, -1100, "Illegal characters found in a parameter."))?;
        let mut params = Params::default();
        let mut signed: Vec<&str> = Vec::new();
        let mut raw_query_len = 0;
        for (text, from_query) in [(query, true), (body, false)] {
            for piece in text.split('&').filter(|p| !p.is_empty()) {
                let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
                let name = decode(name).ok_or_else(illegal)?;
                let value = decode(value).ok_or_else(|| illegal_in(&name))?;
                if name == "signature" {
                    params.signature = Some(value);
                    continue;
                }
                if params.pairs.iter().any(|(n, _, q)| *n == name && *q == from_query) {
                    return Err(Reply::error(400, -1101, "Duplicate values for a parameter detected."));
                }
                if params.pairs.len() >= MAX_PARAMS {
                    return Err(Reply::error(400, -1101, "Too many parameters sent for this endpoint."));
                }
                params.pairs.push((name, value, from_query));
                signed.push(piece);
                if from_query {
                    raw_query_len = signed.len();
                }
            }
        }
        // The payload: the query string, then the body, with no separator between them.
        let (in_query, in_body) = signed.split_at(raw_query_len.min(signed.len()));
        params.payload = [in_query.join("&"), in_body.join("&")].concat().into_bytes();
        Ok(params)
    }

    /// The `params` of a WebSocket-API request (JSON strings, numbers and booleans as their
    /// text); the signed payload is every parameter but `signature`, sorted by name, raw UTF-8
    /// (SPEC §2.6).
    pub(crate) fn from_ws(params: &serde_json::Map<String, serde_json::Value>) -> Result<Self, Reply> {
        use serde_json::Value;
        let mut out = Params::default();
        for (name, value) in params {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                // A list (`symbols`, `permissions`) as its JSON text, as the REST form sends it.
                Value::Array(items) if items.iter().all(Value::is_string) => value.to_string(),
                _ => {
                    return Err(Reply::error(400, -1100, &format!("Illegal characters found in parameter '{name}'.")));
                }
            };
            if out.pairs.len() >= MAX_PARAMS {
                return Err(Reply::error(400, -1101, "Too many parameters sent for this endpoint."));
            }
            if name == "signature" {
                out.signature = Some(text);
            } else {
                out.pairs.push((name.clone(), text, true));
            }
        }
        let pairs: Vec<(&str, &str)> = out.pairs.iter().map(|(n, v, _)| (n.as_str(), v.as_str())).collect();
        out.payload = aegis_exchange::sign::ws_api_payload(&pairs).into_bytes();
        Ok(out)
    }

    /// Parameters made by the exchange itself (a request rewritten into another's form): no
    /// signature, nothing signed.
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs: pairs.into_iter().map(|(n, v)| (n, v, true)).collect(), signature: None, payload: Vec::new() }
    }

    /// A parameter's value (the query's when it is in both places).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let mut found = None;
        for (n, v, from_query) in &self.pairs {
            if n == name {
                if *from_query {
                    return Some(v.as_str());
                }
                found = Some(v.as_str());
            }
        }
        found
    }

    /// A parameter that must be there and not empty (-1102 otherwise).
    pub(crate) fn required(&self, name: &str) -> Result<&str, Reply> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(Reply::error(
                400,
                -1102,
                &format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
            )),
        }
    }

    /// An optional decimal (a bad one is -1100, naming the parameter and the legal range).
    pub(crate) fn decimal(&self, name: &str) -> Result<Option<Decimal>, Reply> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => aegis_exchange::num::parse_decimal(v).map(Some).map_err(|_| {
                Reply::error(
                    400,
                    -1100,
                    &format!(
                        "Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."
                    ),
                )
            }),
        }
    }

    /// An optional integer (a bad one is -1100).
    /// A time parameter (`startTime`, `endTime`) in milliseconds, sent in either unit.
    pub(crate) fn time(&self, name: &str) -> Result<Option<i64>, Reply> {
        Ok(self.integer(name)?.map(to_millis))
    }

    pub(crate) fn integer(&self, name: &str) -> Result<Option<i64>, Reply> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                Reply::error(
                    400,
                    -1100,
                    &format!("Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."),
                )
            }),
        }
    }
}

fn illegal() -> Reply {
    Reply::error(400, -1100, "Illegal characters found in a parameter.")
}

fn illegal_in(name: &str) -> Reply {
    Reply::error(400, -1100, &format!("Illegal characters found in parameter '{name}'."))
}

/// Form-urlencoded decoding: `%XX` as UTF-8 bytes, `+` as a space. `None` on a bad escape or
/// bytes that are not UTF-8.
pub(crate) fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A JSON object written field by field, in the order Binance writes them.
#[derive(Debug)]
pub(crate) struct Obj {
    out: String,
    empty: bool,
}

impl Obj {
    pub(crate) fn new() -> Self {
        Self { out: String::from("{"), empty: true }
    }

    fn key(&mut self, name: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        string_into(&mut self.out, name);
        self.out.push(':');
    }

    /// A string field.
    pub(crate) fn str(mut self, name: &str, value: &str) -> Self {
        self.key(name);
        string_into(&mut self.out, value);
        self
    }

    /// A number field.
    pub(crate) fn int(mut self, name: &str, value: i64) -> Self {
        self.key(name);
        let _ = write!(self.out, "{value}");
        self
    }

    /// A boolean field.
    pub(crate) fn bool(mut self, name: &str, value: bool) -> Self {
        self.key(name);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    /// A `null` field.
    pub(crate) fn null(mut self, name: &str) -> Self {
        self.key(name);
        self.out.push_str("null");
        self
    }

    /// A decimal as Binance writes amounts: a string with 8 decimals (`"0.10000000"`).
    pub(crate) fn dec(mut self, name: &str, value: Decimal) -> Self {
        self.key(name);
        self.out.push('"');
        fixed8_into(&mut self.out, value);
        self.out.push('"');
        self
    }

    /// Already-written JSON (an object or an array).
    pub(crate) fn raw(mut self, name: &str, json: &str) -> Self {
        self.key(name);
        self.out.push_str(json);
        self
    }

    pub(crate) fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// A JSON array of already-written items.
pub(crate) fn array<I: IntoIterator<Item = String>>(items: I) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
    out
}

/// [`fixed8_into`] into a new string (the tests' reading of it).
#[cfg(test)]
pub(crate) fn fixed8(value: Decimal) -> String {
    let mut out = String::with_capacity(24);
    fixed8_into(&mut out, value);
    out
}

/// Appends `value` with exactly 8 decimals to `out` (more are rounded half away from zero, as a
/// display): the digits of the mantissa scaled to 8 decimals, with the point put in. Not
/// `format!("{:.8}")`, which for a `Decimal` near its 28-digit limit overflows rust_decimal's
/// fixed formatting buffer and panics (found by the `paper_http` fuzz target), and no `Decimal`
/// formatting at all: this runs for every amount of every answer.
pub(crate) fn fixed8_into(out: &mut String, value: Decimal) {
    let v = if value.scale() <= 8 {
        value
    } else {
        value.round_dp_with_strategy(8, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    };
    let scaled = 10i128.checked_pow(8u32.saturating_sub(v.scale())).and_then(|p| v.mantissa().checked_mul(p));
    let Some(scaled) = scaled else {
        // Out of i128 (cannot happen for a Decimal's 96-bit mantissa): the slow way.
        let text = v.to_string();
        let decimals = text.split_once('.').map_or(0, |(_, frac)| frac.len());
        out.push_str(&text);
        if decimals == 0 {
            out.push('.');
        }
        for _ in decimals..8 {
            out.push('0');
        }
        return;
    };
    if scaled < 0 {
        out.push('-');
    }
    // The digits, last first, into a buffer (a 96-bit mantissa times 10^8 has at most 38): eight
    // decimals, the point, and the whole part (at least one digit), in u64 arithmetic where it
    // fits (nearly always: u128 division is a library call).
    let abs = scaled.unsigned_abs();
    let mut buf = [0u8; 48];
    let mut at = buf.len();
    let mut digit = |at: &mut usize, d: u64| {
        *at -= 1;
        // `d` is below 10.
        buf[*at] = b'0' + d as u8;
    };
    let mut frac = (abs % 100_000_000) as u64;
    for _ in 0..8 {
        digit(&mut at, frac % 10);
        frac /= 10;
    }
    at -= 1;
    let point = at;
    let mut whole = abs / 100_000_000;
    while whole > u128::from(u64::MAX) {
        digit(&mut at, (whole % 10) as u64);
        whole /= 10;
    }
    let mut whole = whole as u64;
    loop {
        digit(&mut at, whole % 10);
        whole /= 10;
        if whole == 0 {
            break;
        }
    }
    buf[point] = b'.';
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
}

/// A JSON array of price levels: `[["price","qty"],...]` with 8 decimals.
pub(crate) fn levels_json(levels: impl IntoIterator<Item = super::market::Level>) -> String {
    let mut out = String::with_capacity(256);
    out.push('[');
    for (i, l) in levels.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("[\"");
        fixed8_into(&mut out, l.price);
        out.push_str("\",\"");
        fixed8_into(&mut out, l.qty);
        out.push_str("\"]");
    }
    out.push(']');
    out
}

/// `text` as a JSON string literal.
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::new();
    string_into(&mut out, text);
    out
}

fn string_into(out: &mut String, text: &str) {
    // Most strings (every key, symbols, enums, ids) need no escape.
    if !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push('"');
        out.push_str(text);
        out.push('"');
        return;
    }
    // serde_json escapes exactly as JSON needs; writing into a String cannot fail.
    match serde_json::to_string(text) {
        Ok(s) => out.push_str(&s),
        Err(_) => out.push_str("\"\""),
    }
}

/// The parts of an exchangeInfo answer, each with the order Binance writes its members in
/// (rest-api.md "Exchange information", filters.md): a capture may have another order (the
/// bundled one is sorted), and `serde_json::Value` sorts them anyway.
#[derive(Debug, Clone, Copy)]
enum InfoPart {
    Top,
    RateLimit,
    Symbol,
    Filter,
    Sor,
    Other,
}

impl InfoPart {
    fn order(self) -> &'static [&'static str] {
        match self {
            InfoPart::Top => &["timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols", "sors"],
            InfoPart::RateLimit => &["rateLimitType", "interval", "intervalNum", "limit"],
            InfoPart::Symbol => aegis_exchange::SYMBOL_FIELDS,
            // Every filter's members fit one order.
            InfoPart::Filter => &[
                "filterType",
                "minPrice",
                "maxPrice",
                "tickSize",
                "multiplierUp",
                "multiplierDown",
                "bidMultiplierUp",
                "bidMultiplierDown",
                "askMultiplierUp",
                "askMultiplierDown",
                "minQty",
                "maxQty",
                "stepSize",
                "minNotional",
                "applyToMarket",
                "applyMinToMarket",
                "maxNotional",
                "applyMaxToMarket",
                "avgPriceMins",
                "asset",
                "limit",
                "maxNumOrders",
                "maxNumAlgoOrders",
                "maxNumIcebergOrders",
                "maxPosition",
                "minTrailingAboveDelta",
                "maxTrailingAboveDelta",
                "minTrailingBelowDelta",
                "maxTrailingBelowDelta",
                "maxNumOrderAmends",
                "maxNumOrderLists",
            ],
            InfoPart::Sor => &["baseAsset", "symbols"],
            InfoPart::Other => &[],
        }
    }

    /// What the items of member `name`'s list are.
    fn items(self, name: &str) -> InfoPart {
        match (self, name) {
            (InfoPart::Top, "rateLimits") => InfoPart::RateLimit,
            (InfoPart::Top, "exchangeFilters") | (InfoPart::Symbol, "filters") => InfoPart::Filter,
            (InfoPart::Top, "symbols") => InfoPart::Symbol,
            (InfoPart::Top, "sors") => InfoPart::Sor,
            _ => InfoPart::Other,
        }
    }
}

/// An exchangeInfo document written once, to answer `exchangeInfo` by assembling parts: its
/// top-level members in Binance's order (`serverTime` and `symbols` filled per answer), and each
/// symbol as Binance writes it, with and without its permission sets, beside what the answer's
/// filters read (name, status, permissions).
#[derive(Debug, Default)]
pub(crate) struct PreparedInfo {
    /// The top-level members in order, each written (`None`: `serverTime` and `symbols`).
    top: Vec<(String, Option<String>)>,
    /// The symbols, in the document's order.
    pub(crate) symbols: Vec<PreparedSymbol>,
    /// The exchange filters, written (`myFilters`).
    pub(crate) exchange_filters: String,
    /// Whether the document was an exchangeInfo object (otherwise every answer is a 500).
    pub(crate) valid: bool,
}

/// One symbol of a [`PreparedInfo`].
#[derive(Debug)]
pub(crate) struct PreparedSymbol {
    pub(crate) name: String,
    pub(crate) status: Option<String>,
    /// Its `permissions` and every permission of its `permissionSets`.
    pub(crate) permissions: Vec<String>,
    /// Written, as it is.
    json: String,
    /// Written with `"permissionSets": []` (`showPermissionSets=false`).
    json_without_sets: String,
    /// Its filters, written (`myFilters`).
    pub(crate) filters: String,
}

/// A list of filters as Binance writes it (`[]` when it is not a list).
fn filters_json(list: Option<&serde_json::Value>) -> String {
    let mut out = String::from("[");
    for (j, item) in list.and_then(serde_json::Value::as_array).into_iter().flatten().enumerate() {
        if j > 0 {
            out.push(',');
        }
        write_info(&mut out, item, InfoPart::Filter);
    }
    out.push(']');
    out
}

impl PreparedInfo {
    /// Prepares an exchangeInfo response's JSON.
    pub(crate) fn new(json: &[u8]) -> Self {
        use serde_json::Value;
        let Ok(Value::Object(mut doc)) = serde_json::from_slice::<Value>(json) else { return Self::default() };
        let symbols = match doc.remove("symbols") {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        };
        let symbols = symbols
            .into_iter()
            .map(|mut symbol| {
                let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
                let list = |v: Option<&Value>| -> Vec<String> {
                    v.and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                };
                let mut permissions = list(symbol.get("permissions"));
                for set in symbol.get("permissionSets").and_then(Value::as_array).into_iter().flatten() {
                    permissions.extend(list(Some(set)));
                }
                let mut json = String::new();
                write_info(&mut json, &symbol, InfoPart::Symbol);
                let json_without_sets = match symbol.get_mut("permissionSets") {
                    Some(sets) => {
                        *sets = Value::Array(Vec::new());
                        let mut out = String::new();
                        write_info(&mut out, &symbol, InfoPart::Symbol);
                        out
                    }
                    None => json.clone(),
                };
                PreparedSymbol {
                    filters: filters_json(symbol.get("filters")),
                    name: text(&symbol, "symbol").unwrap_or_default(),
                    status: text(&symbol, "status"),
                    permissions,
                    json,
                    json_without_sets,
                }
            })
            .collect();
        let exchange_filters = filters_json(doc.get("exchangeFilters"));
        doc.insert("serverTime".to_owned(), Value::Null);
        doc.insert("symbols".to_owned(), Value::Null);
        let order = InfoPart::Top.order();
        let mut names: Vec<String> = doc.keys().cloned().collect();
        names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(order.len()));
        let top = names
            .into_iter()
            .map(|name| {
                let written = match (name.as_str(), doc.get(&name)) {
                    ("serverTime" | "symbols", _) | (_, None) => None,
                    (_, Some(Value::Array(items))) => {
                        let mut out = String::from("[");
                        for (j, item) in items.iter().enumerate() {
                            if j > 0 {
                                out.push(',');
                            }
                            write_info(&mut out, item, InfoPart::Top.items(&name));
                        }
                        out.push(']');
                        Some(out)
                    }
                    (_, Some(other)) => {
                        let mut out = String::new();
                        write_info(&mut out, other, InfoPart::Other);
                        Some(out)
                    }
                };
                (name, written)
            })
            .collect();
        Self { top, symbols, exchange_filters, valid: true }
    }

    /// The answer: the document at `now` with these symbols (in their order), with or without
    /// their permission sets.
    pub(crate) fn answer<'a>(
        &self,
        now: i64,
        symbols: impl Iterator<Item = &'a PreparedSymbol>,
        permission_sets: bool,
    ) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let mut symbols = Some(symbols);
        out.push('{');
        for (i, (name, written)) in self.top.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            string_into(&mut out, name);
            out.push(':');
            match (name.as_str(), written) {
                ("serverTime", _) => {
                    let _ = write!(out, "{now}");
                }
                ("symbols", _) => {
                    out.push('[');
                    for (j, symbol) in symbols.take().into_iter().flatten().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        out.push_str(if permission_sets { &symbol.json } else { &symbol.json_without_sets });
                    }
                    out.push(']');
                }
                (_, Some(text)) => out.push_str(text),
                (_, None) => out.push_str("null"),
            }
        }
        out.push('}');
        out
    }
}

fn write_info(out: &mut String, value: &serde_json::Value, part: InfoPart) {
    match value {
        serde_json::Value::Object(members) => {
            let order = part.order();
            let mut names: Vec<&String> = members.keys().collect();
            names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(order.len()));
            out.push('{');
            for (i, name) in names.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string_into(out, name);
                out.push(':');
                if let Some(v) = members.get(name) {
                    match v {
                        serde_json::Value::Array(items) => {
                            out.push('[');
                            for (j, item) in items.iter().enumerate() {
                                if j > 0 {
                                    out.push(',');
                                }
                                write_info(out, item, part.items(name));
                            }
                            out.push(']');
                        }
                        other => write_info(out, other, InfoPart::Other),
                    }
                }
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A timestamp parameter this large is in microseconds (a millisecond one would be past the
/// year 30,000): Binance takes `timestamp`, `startTime` and `endTime` in either unit.
const MICROSECONDS_FROM: i64 = 1_000_000_000_000_000;

/// A timestamp parameter in milliseconds, whichever unit it was sent in.
pub(crate) fn to_millis(timestamp: i64) -> i64 {
    if timestamp >= MICROSECONDS_FROM { timestamp / 1000 } else { timestamp }
}

/// The time fields of REST and WebSocket-API results (`X-MBX-TIME-UNIT: MICROSECOND`,
/// `timeUnit=MICROSECOND`), each with what its milliseconds gain in microseconds.
pub(crate) const RESULT_TIMES: &[(&str, &str)] = &[
    ("serverTime", "000"),
    ("transactTime", "000"),
    ("time", "000"),
    ("updateTime", "000"),
    ("workingTime", "000"),
    ("openTime", "000"),
    ("closeTime", "000"),
    ("transactionTime", "000"),
    ("trailingTime", "000"),
    ("timestamp", "000"),
    ("authorizedSince", "000"),
    ("connectedSince", "000"),
    ("retryAfter", "000"),
    // aggTrades' trade time.
    ("T", "000"),
];

/// The time fields of user-data events: event, transaction, creation, working and trailing
/// times, and an account position's last update.
pub(crate) const EVENT_TIMES: &[(&str, &str)] =
    &[("E", "000"), ("T", "000"), ("O", "000"), ("W", "000"), ("D", "000"), ("u", "000")];

/// `json` with the non-negative integer members named in `keys` (at any depth) in microseconds:
/// the digits followed by the key's gain (`"000"`, or `"999"` for the last microsecond of a
/// millisecond). Negative values (`-1`: not set) stay as they are.
pub(crate) fn times_in_microseconds(json: &str, keys: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(json.len() + 32);
    let mut rest = json;
    'scan: while !rest.is_empty() {
        if rest.starts_with('"') {
            for (key, gain) in keys {
                let Some(after) = rest.get(1..).and_then(|r| r.strip_prefix(key)).and_then(|r| r.strip_prefix("\":"))
                else {
                    continue;
                };
                let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                if digits > 0 {
                    let Some((number, tail)) = after.split_at_checked(digits) else { break };
                    out.push('"');
                    out.push_str(key);
                    out.push_str("\":");
                    out.push_str(number);
                    out.push_str(gain);
                    rest = tail;
                    continue 'scan;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// A klines answer (`[[open time, ..., close time, ...], ...]`) with its open and close times in
/// microseconds (the close time is the window's last microsecond).
pub(crate) fn klines_in_microseconds(json: &str) -> String {
    let Ok(mut rows) = serde_json::from_str::<Vec<Vec<serde_json::Value>>>(json) else { return json.to_owned() };
    for row in &mut rows {
        for (index, gain) in [(0, 0), (6, 999)] {
            if let Some(v) = row.get_mut(index)
                && let Some(ms) = v.as_i64()
            {
                *v = serde_json::Value::from(ms.saturating_mul(1000).saturating_add(gain));
            }
        }
    }
    serde_json::to_string(&rows).unwrap_or_else(|_| json.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_query_then_body_without_the_signature() {
        let p = Params::parse(
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&signature=ab",
            b"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
        )
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&p.payload).unwrap(),
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        );
        assert_eq!(p.signature.as_deref(), Some("ab"));
        assert_eq!(p.get("price"), Some("0.1"));
    }

    #[test]
    fn the_query_wins_and_duplicates_in_one_place_are_refused() {
        let p = Params::parse("price=1", b"price=2").unwrap();
        assert_eq!(p.get("price"), Some("1"));
        let e = Params::parse("price=1&price=2", b"").unwrap_err();
        assert_eq!(e.code(), Some(-1101));
    }

    #[test]
    fn eight_decimals_at_any_size() {
        assert_eq!(fixed8(Decimal::new(1, 1)), "0.10000000");
        assert_eq!(fixed8(Decimal::from(65_000)), "65000.00000000");
        assert_eq!(fixed8(Decimal::new(123_456_789, 9)), "0.12345679");
        assert_eq!(fixed8(Decimal::MAX), "79228162514264337593543950335.00000000");
        assert_eq!(fixed8(-Decimal::new(5, 0)), "-5.00000000");
        assert_eq!(fixed8(Decimal::MIN), "-79228162514264337593543950335.00000000");
        assert_eq!(fixed8(Decimal::new(5, 9)), "0.00000001");
        assert_eq!(fixed8(Decimal::new(-5, 1)), "-0.50000000");
        assert_eq!(fixed8(Decimal::new(-4, 9)), "0.00000000");
        // Whatever the scale and sign, as rust_decimal's own 8-decimal display (where it works).
        let mut x: i64 = 1;
        for i in 0..2_000u32 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let d = Decimal::new(x >> (i % 40), i % 20);
            let rounded = d.round_dp_with_strategy(8, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            let expected = format!("{rounded:.8}");
            let expected = if expected.trim_start_matches('-').trim_matches(|c| c == '0' || c == '.').is_empty() {
                "0.00000000".to_owned()
            } else {
                expected
            };
            assert_eq!(fixed8(d), expected, "{d}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(decode("%EF%BC%91a+b").as_deref(), Some("１a b"));
        assert_eq!(decode("%E"), None);
        assert_eq!(decode("%ZZ"), None);
        assert_eq!(decode("%FF"), None);
    }

    #[test]
    fn objects_keep_their_field_order() {
        let o = Obj::new()
            .str("symbol", "BTC\"USDT")
            .int("orderId", 7)
            .dec("price", Decimal::new(1, 1))
            .bool("w", true)
            .finish();
        assert_eq!(o, r#"{"symbol":"BTC\"USDT","orderId":7,"price":"0.10000000","w":true}"#);
    }
}
