//! The tree-sitter chunker: pieces of whole lines that follow the syntax tree, merged and
//! split to the size limits of [`ChunkOptions`].

use crate::{Chunk, ChunkOptions, Lang, Symbol};
use tree_sitter::Node;

/// How deep containers are split into members (deeper ones are split into line parts).
const MAX_NEST: u32 = 8;
/// How deep transparent wrappers (`#ifdef`, JSON's top object, YAML documents) are opened.
const MAX_TRANSPARENT: u32 = 12;
/// How deep the statement boundaries of a node that is split into parts are looked for.
const MAX_BOUNDARY_DEPTH: u32 = 5;

/// A run of lines (0-based, inclusive) with what it holds.
#[derive(Debug, Clone)]
struct Piece {
    start: u32,
    end: u32,
    kind: &'static str,
    symbol: Option<String>,
    header: Option<String>,
    /// Whether the piece is (part of) a definition, which wins when pieces merge.
    def: bool,
    /// Pieces merge only with neighbours of the same group (siblings of one list).
    group: u32,
}

/// A definition node, classified.
struct Def<'t> {
    /// Symbol kind (`function`, `method`, `class`, ...).
    kind: &'static str,
    /// Bare name.
    name: String,
    /// Shown in headers instead of the name (e.g. `Display for Parser`).
    display: Option<String>,
    /// Container whose members are split out when the definition is too big.
    body: Option<Node<'t>>,
    /// A container name forced by the syntax (Go method receivers).
    container: Option<String>,
    /// Whether functions directly inside the body are methods.
    class_like: bool,
}

impl Def<'_> {
    /// A definition with no body to split, no forced container and no display name.
    fn plain(kind: &'static str, name: String) -> Self {
        Def {
            kind,
            name,
            display: None,
            body: None,
            container: None,
            class_like: false,
        }
    }
}

/// The container the current sibling list is in.
#[derive(Clone, Default)]
struct Scope {
    /// Qualified name of the container, e.g. `Parser` or `inner::Parser`.
    qual: Option<String>,
    /// Header path, e.g. `mod inner > impl Parser`.
    header: Option<String>,
    /// The container's chunk kind, for its leftover lines.
    kind: &'static str,
    /// Whether functions directly inside are methods.
    class_like: bool,
    /// Nesting depth.
    depth: u32,
}

/// One item of a sibling list: a node, or a definition with the comments/attributes before it.
struct Item<'t> {
    node: Node<'t>,
    start: u32,
    end: u32,
    prefix: bool,
}

pub(crate) struct Chunker<'a> {
    lang: Lang,
    text: &'a str,
    line_starts: Vec<usize>,
    max_lines: usize,
    max_bytes: usize,
    min_bytes: usize,
    pieces: Vec<Piece>,
    pub(crate) symbols: Vec<Symbol>,
    next_group: u32,
}

/// Start byte of every line of `text` (non-empty): a trailing `'\n'` does not start a line.
pub(crate) fn line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = Vec::with_capacity(bytes.len() / 32 + 1);
    starts.push(0);
    for i in memchr::memchr_iter(b'\n', bytes) {
        if i + 1 < bytes.len() {
            starts.push(i + 1);
        }
    }
    starts
}

impl<'a> Chunker<'a> {
    pub(crate) fn new(lang: Lang, text: &'a str, opts: &ChunkOptions) -> Self {
        Chunker {
            lang,
            text,
            line_starts: line_starts(text),
            max_lines: opts.max_lines.max(1),
            max_bytes: opts.max_bytes.max(1),
            min_bytes: opts.min_bytes,
            pieces: Vec::new(),
            symbols: Vec::new(),
            next_group: 1,
        }
    }

    fn nlines(&self) -> u32 {
        self.line_starts.len() as u32
    }

    fn line_start(&self, line: u32) -> usize {
        self.line_starts
            .get(line as usize)
            .copied()
            .unwrap_or(self.text.len())
    }

    fn line_end(&self, line: u32) -> usize {
        self.line_start(line + 1)
    }

    fn bytes(&self, start: u32, end: u32) -> usize {
        self.line_end(end).saturating_sub(self.line_start(start))
    }

    fn fits(&self, start: u32, end: u32) -> bool {
        ((end - start) as usize) < self.max_lines && self.bytes(start, end) <= self.max_bytes
    }

    fn group(&mut self) -> u32 {
        self.next_group += 1;
        self.next_group
    }

    fn text_of(&self, node: Node) -> &'a str {
        self.text.get(node.byte_range()).unwrap_or("")
    }

    /// First line of `node` (0-based), clamped to the text.
    fn first_line(&self, node: Node) -> u32 {
        (node.start_position().row as u32).min(self.nlines() - 1)
    }

    /// Last line of `node` (0-based): a node ending at column 0 ends on the line before.
    fn last_line(&self, node: Node) -> u32 {
        let s = node.start_position();
        let e = node.end_position();
        let row = if e.column == 0 && e.row > s.row {
            e.row - 1
        } else {
            e.row
        };
        (row as u32).min(self.nlines() - 1)
    }

    // ----- the driver -----

    /// Chunks the tree under `root`. Returns `None` when the pieces would not tile the text
    /// (a bug guard; the caller falls back to line windows).
    pub(crate) fn run(&mut self, root: Node) -> Option<Vec<Chunk>> {
        let scope = Scope {
            kind: "block",
            ..Scope::default()
        };
        let g = self.group();
        let last = self.nlines() - 1;
        self.list(root, None, 0, &scope, g);
        self.fill_gaps(last);
        self.merge();
        self.enforce_max_lines();
        let chunks: Vec<Chunk> = self
            .pieces
            .drain(..)
            .map(|p| Chunk {
                start_line: p.start + 1,
                end_line: p.end + 1,
                start_byte: 0,
                end_byte: 0,
                kind: p.kind,
                symbol: p.symbol,
                header: p.header,
            })
            .collect();
        let mut chunks = chunks;
        for c in &mut chunks {
            c.start_byte = self.line_start(c.start_line - 1);
            c.end_byte = self.line_end(c.end_line - 1);
        }
        crate::tiles(self.text, &chunks).then_some(chunks)
    }

    /// The members of `parent` (all its children, transparent wrappers opened), as items with
    /// the leading comments/attributes attached to the definition that follows them.
    fn items<'t>(&self, parent: Node<'t>, top: bool, out: &mut Vec<Node<'t>>, depth: u32) {
        let mut cursor = parent.walk();
        if !cursor.goto_first_child() {
            return;
        }
        loop {
            let child = cursor.node();
            if depth < MAX_TRANSPARENT && self.transparent(child, parent.kind(), top) {
                self.items(child, top, out, depth + 1);
            } else {
                out.push(child);
            }
            if !cursor.goto_next_sibling() {
                break;
            }
        }
    }

    /// Processes the children of `parent` as a sibling list owning lines from `from` on
    /// (lines before belong to the previous piece), pieces of group `group`.
    fn list(
        &mut self,
        parent: Node,
        from: Option<u32>,
        skip_before: u32,
        scope: &Scope,
        group: u32,
    ) {
        let mut nodes = Vec::new();
        self.items(parent, scope.depth == 0, &mut nodes, 0);
        let mut items: Vec<Item> = Vec::with_capacity(nodes.len());
        for n in nodes {
            let start = self.first_line(n);
            let end = self.last_line(n);
            items.push(Item {
                node: n,
                start,
                end,
                prefix: self.is_prefix(n),
            });
        }
        let mut next = from.unwrap_or(0).max(skip_before);
        let mut i = 0;
        while i < items.len() {
            let mut start = items[i].start;
            let mut idx = i;
            if items[i].prefix {
                // A run of comments/attributes directly followed by a definition attaches to it.
                let mut j = i + 1;
                while j < items.len() && items[j].prefix && items[j].start <= items[j - 1].end + 1 {
                    j += 1;
                }
                let attaches = j < items.len()
                    && items[j].start <= items[j - 1].end + 1
                    && self.classify(items[j].node, scope).is_some();
                if attaches {
                    idx = j;
                } else {
                    // Not attached: the run's items are plain items.
                    for it in &items[i..j] {
                        let (node, s, e) = (it.node, it.start, it.end);
                        next = self.plain(node, s, e, next, scope, group);
                    }
                    i = j;
                    continue;
                }
            }
            let node = items[idx].node;
            start = start.min(items[idx].start);
            let end = items[idx].end;
            i = idx + 1;
            let def = self.classify(node, scope);
            if end < next {
                // Entirely on lines already taken (several items on one line).
                if let Some(def) = def {
                    self.push_symbol(&def, node, scope);
                    self.nested_symbols(&def, scope);
                }
                continue;
            }
            if start < next {
                // Shares its first line with the previous piece: extend that piece.
                if let Some(last) = self.pieces.last_mut() {
                    if last.group == group {
                        last.end = last.end.max(end);
                        if let Some(def) = def {
                            self.push_symbol(&def, node, scope);
                            self.nested_symbols(&def, scope);
                        }
                        next = end + 1;
                        continue;
                    }
                }
            }
            let s = start.max(next);
            match def {
                Some(def) => self.definition(def, node, s, end, scope, group),
                None => self.other(node, s, end, scope, group),
            }
            next = end + 1;
        }
    }

    /// A non-definition item over lines `s..=e` when lines before `next` are taken; returns
    /// the new `next`.
    fn plain(&mut self, node: Node, s: u32, e: u32, next: u32, scope: &Scope, group: u32) -> u32 {
        if e < next {
            return next;
        }
        if s < next {
            if let Some(last) = self.pieces.last_mut() {
                if last.group == group {
                    last.end = last.end.max(e);
                    return e + 1;
                }
            }
        }
        self.other(node, s.max(next), e, scope, group);
        e + 1
    }

    /// A definition over lines `s..=e`.
    fn definition(&mut self, def: Def, node: Node, s: u32, e: u32, scope: &Scope, group: u32) {
        let sep = self.sep();
        let qual = qualify(
            def.container.as_deref().or(scope.qual.as_deref()),
            &def.name,
            sep,
        );
        let chunk_kind = chunk_kind(def.kind);
        self.push_symbol(&def, node, scope);
        if self.fits(s, e) || s == e {
            self.nested_symbols(&def, scope);
            self.pieces.push(Piece {
                start: s,
                end: e,
                kind: chunk_kind,
                symbol: Some(qual),
                header: scope.header.clone(),
                def: true,
                group,
            });
            return;
        }
        let own = self.label(&def);
        let header_path = match &scope.header {
            Some(h) => format!("{h} > {own}"),
            None => own.clone(),
        };
        if let Some(body) = def.body {
            if scope.depth < MAX_NEST {
                // Split into members: head lines, members, tail lines.
                let g = self.group();
                let inner = Scope {
                    qual: Some(qual.clone()),
                    header: Some(header_path.clone()),
                    kind: chunk_kind,
                    class_like: def.class_like,
                    depth: scope.depth + 1,
                };
                let first_member = first_named_child_line(body, self).unwrap_or(s + 1);
                let head_end = first_member.saturating_sub(1).max(s).min(e);
                self.pieces.push(Piece {
                    start: s,
                    end: head_end,
                    kind: chunk_kind,
                    symbol: Some(qual.clone()),
                    header: Some(header_path.clone()),
                    def: false,
                    group: g,
                });
                self.list(body, Some(head_end + 1), head_end + 1, &inner, g);
                let covered = self.pieces.last().map_or(head_end, |p| p.end).max(head_end);
                if covered < e {
                    self.pieces.push(Piece {
                        start: covered + 1,
                        end: e,
                        kind: chunk_kind,
                        symbol: Some(qual),
                        header: Some(header_path),
                        def: false,
                        group: g,
                    });
                }
                return;
            }
        }
        self.nested_symbols(&def, scope);
        self.parts(node, s, e, chunk_kind, Some(qual), Some(header_path), true);
    }

    /// A node that is not a definition over lines `s..=e`.
    fn other(&mut self, node: Node, s: u32, e: u32, scope: &Scope, group: u32) {
        if self.fits(s, e) || s == e {
            self.pieces.push(Piece {
                start: s,
                end: e,
                kind: scope.kind,
                symbol: scope.qual.clone(),
                header: scope.header.clone(),
                def: false,
                group,
            });
            return;
        }
        self.parts(
            node,
            s,
            e,
            scope.kind,
            scope.qual.clone(),
            scope.header.clone(),
            false,
        );
    }

    /// Splits lines `s..=e` of `node` into parts that fit, cutting at statement boundaries
    /// where possible. With `numbered`, headers get ` (part i/n)`.
    #[allow(clippy::too_many_arguments)]
    fn parts(
        &mut self,
        node: Node,
        s: u32,
        e: u32,
        kind: &'static str,
        symbol: Option<String>,
        header: Option<String>,
        def: bool,
    ) {
        // Boundary depth per line (u8::MAX: no node starts a line there).
        let n = (e - s + 1) as usize;
        let mut depth_at = vec![u8::MAX; n + 1];
        self.boundaries(node, s, e, &mut depth_at);
        let mut ranges = Vec::new();
        let mut cur = s;
        while cur <= e {
            // The farthest end that fits.
            let mut m = cur;
            while m < e && self.fits(cur, m + 1) {
                m += 1;
            }
            if m >= e {
                ranges.push((cur, e));
                break;
            }
            // Cut before the shallowest boundary in the second half of the window.
            let lo = cur + 1 + (m - cur) / 2;
            let mut best: Option<(u8, u32)> = None;
            for b in lo..=m + 1 {
                let d = depth_at[(b - s) as usize];
                if d != u8::MAX && best.is_none_or(|(bd, _)| d <= bd) {
                    best = Some((d, b));
                }
            }
            let cut = best.map_or(m + 1, |(_, b)| b);
            ranges.push((cur, cut - 1));
            cur = cut;
        }
        let total = ranges.len();
        for (k, (a, b)) in ranges.into_iter().enumerate() {
            let header = if def {
                header
                    .as_ref()
                    .map(|h| format!("{h} (part {}/{total})", k + 1))
            } else {
                header.clone()
            };
            let group = self.group();
            self.pieces.push(Piece {
                start: a,
                end: b,
                kind,
                symbol: symbol.clone(),
                header,
                def,
                group,
            });
        }
    }

    /// Records, for lines `s+1..=e+1` relative to `s`, the smallest depth of a node of `node`'s
    /// subtree that starts that line (first non-blank byte).
    fn boundaries(&self, node: Node, s: u32, e: u32, depth_at: &mut [u8]) {
        let mut cursor = node.walk();
        let mut depth = 0u32;
        let src = self.text.as_bytes();
        loop {
            let n = cursor.node();
            let row = n.start_position().row as u32;
            if row > s && row <= e + 1 {
                let slot = &mut depth_at[(row - s) as usize];
                if (depth as u8) < *slot {
                    let ls = self.line_start(row);
                    let sb = n.start_byte();
                    if sb >= ls
                        && src
                            .get(ls..sb)
                            .is_some_and(|p| p.iter().all(|c| *c == b' ' || *c == b'\t'))
                    {
                        *slot = depth as u8;
                    }
                }
            }
            if depth < MAX_BOUNDARY_DEPTH && cursor.goto_first_child() {
                depth += 1;
                continue;
            }
            loop {
                if depth == 0 {
                    return;
                }
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return;
                }
                depth -= 1;
            }
        }
    }

    // ----- symbols -----

    fn push_symbol(&mut self, def: &Def, node: Node, scope: &Scope) {
        let container = def.container.clone().or_else(|| scope.qual.clone());
        self.symbols.push(Symbol {
            name: def.name.clone(),
            kind: def.kind,
            container,
            start_line: self.first_line(node) + 1,
            end_line: self.last_line(node) + 1,
        });
    }

    /// The symbols inside a definition that is not split (its members, recursively).
    fn nested_symbols(&mut self, def: &Def, scope: &Scope) {
        let Some(body) = def.body else {
            return;
        };
        if scope.depth >= MAX_NEST {
            return;
        }
        let inner = Scope {
            qual: Some(qualify(
                def.container.as_deref().or(scope.qual.as_deref()),
                &def.name,
                self.sep(),
            )),
            header: None,
            kind: "block",
            class_like: def.class_like,
            depth: scope.depth + 1,
        };
        let mut nodes = Vec::new();
        self.items(body, false, &mut nodes, 0);
        for n in nodes {
            if let Some(d) = self.classify(n, &inner) {
                self.push_symbol(&d, n, &inner);
                self.nested_symbols(&d, &inner);
            }
        }
    }

    // ----- gaps, merging, limits -----

    /// Gives the lines no piece covers (blank lines, mostly) to a neighbour.
    fn fill_gaps(&mut self, last: u32) {
        let mut out: Vec<Piece> = Vec::with_capacity(self.pieces.len() + 2);
        let mut next = 0u32;
        let pieces = std::mem::take(&mut self.pieces);
        for mut p in pieces {
            if p.end < next {
                continue; // defensive: fully overlapped
            }
            p.start = p.start.max(next);
            if p.start > next {
                // gap next..p.start-1
                let (gs, ge) = (next, p.start - 1);
                match out.last_mut() {
                    Some(prev) if self.fits(prev.start, ge) => prev.end = ge,
                    _ if self.fits(gs, p.end) => p.start = gs,
                    _ => out.push(self.gap_piece(gs, ge)),
                }
            }
            next = p.end + 1;
            out.push(p);
        }
        if next <= last {
            match out.last_mut() {
                Some(prev) if self.fits(prev.start, last) => prev.end = last,
                _ => out.push(self.gap_piece(next, last)),
            }
        }
        self.pieces = out;
    }

    fn gap_piece(&mut self, s: u32, e: u32) -> Piece {
        let group = self.group();
        Piece {
            start: s,
            end: e,
            kind: "block",
            symbol: None,
            header: None,
            def: false,
            group,
        }
    }

    /// Merges small neighbours of one group while the result fits.
    fn merge(&mut self) {
        let pieces = std::mem::take(&mut self.pieces);
        let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
        for p in pieces {
            if let Some(acc) = out.last_mut() {
                if acc.group == p.group
                    && (self.bytes(acc.start, acc.end) < self.min_bytes
                        || self.bytes(p.start, p.end) < self.min_bytes)
                    && self.fits(acc.start, p.end)
                {
                    let take_new = p.def
                        && (!acc.def
                            || self.bytes(p.start, p.end) > self.bytes(acc.start, acc.end));
                    if take_new {
                        acc.kind = p.kind;
                        acc.symbol = p.symbol;
                        acc.header = p.header;
                        acc.def = true;
                    }
                    acc.end = p.end;
                    continue;
                }
            }
            out.push(p);
        }
        self.pieces = out;
    }

    /// Splits any piece longer than `max_lines` (only possible through shared lines).
    fn enforce_max_lines(&mut self) {
        if self
            .pieces
            .iter()
            .all(|p| ((p.end - p.start) as usize) < self.max_lines)
        {
            return;
        }
        let pieces = std::mem::take(&mut self.pieces);
        for p in pieces {
            let mut s = p.start;
            while s <= p.end {
                let e = (s + self.max_lines as u32 - 1).min(p.end);
                let mut q = p.clone();
                q.start = s;
                q.end = e;
                self.pieces.push(q);
                s = e + 1;
            }
        }
    }

    // ----- language knowledge -----

    fn sep(&self) -> &'static str {
        match self.lang {
            Lang::Rust | Lang::C | Lang::Cpp => "::",
            Lang::Markdown => " > ",
            _ => ".",
        }
    }

    /// Header text of a definition, e.g. `impl Display for Parser`, `class Foo`, `[package]`.
    fn label(&self, def: &Def) -> String {
        let name = def.display.as_deref().unwrap_or(&def.name);
        let kw = match (self.lang, def.kind) {
            (Lang::Markdown, _) => return name.to_string(),
            (Lang::Toml, _) => return format!("[{name}]"),
            (Lang::Json | Lang::Yaml, _) => return format!("{name}:"),
            (Lang::Rust, "function" | "method") => "fn",
            (Lang::Rust, "module") => "mod",
            (Lang::Rust, "macro") => "macro_rules!",
            (Lang::Python, "function" | "method") => "def",
            (Lang::Go, "function" | "method") => "func",
            (Lang::Go, _) => "type",
            (Lang::Cpp, "module") | (Lang::TypeScript | Lang::Tsx, "module") => "namespace",
            (_, k) => k,
        };
        format!("{kw} {name}")
    }

    fn is_prefix(&self, n: Node) -> bool {
        match n.kind() {
            "comment" | "line_comment" | "block_comment" => true,
            "attribute_item" => self.lang == Lang::Rust,
            "decorator" => matches!(self.lang, Lang::TypeScript | Lang::Tsx | Lang::JavaScript),
            _ => false,
        }
    }

    /// Wrappers whose children are listed in their place.
    fn transparent(&self, n: Node, parent: &str, top: bool) -> bool {
        match self.lang {
            Lang::C | Lang::Cpp => {
                matches!(
                    n.kind(),
                    "preproc_ifdef"
                        | "preproc_if"
                        | "preproc_else"
                        | "preproc_elif"
                        | "preproc_elifdef"
                        | "linkage_specification"
                        | "declaration_list"
                ) && (top || n.kind().starts_with("preproc"))
            }
            Lang::Json => top && n.kind() == "object" && parent == "document",
            Lang::Yaml => top && matches!(n.kind(), "document" | "block_node" | "block_mapping"),
            Lang::Markdown => n.kind() == "section" && heading(n).is_none(),
            _ => false,
        }
    }

    /// The definition `n` is, if any.
    fn classify<'t>(&self, n: Node<'t>, scope: &Scope) -> Option<Def<'t>> {
        let fnkind = if scope.class_like {
            "method"
        } else {
            "function"
        };
        let named = |kind: &'static str, body: Option<Node<'t>>, class_like: bool| {
            let name = n
                .child_by_field_name("name")
                .map(|x| self.text_of(x).to_string())?;
            Some(Def {
                kind,
                name,
                display: None,
                body,
                container: None,
                class_like,
            })
        };
        let body = n.child_by_field_name("body");
        match self.lang {
            Lang::Rust => match n.kind() {
                "function_item" | "function_signature_item" => named(fnkind, None, false),
                "struct_item" | "union_item" => named("struct", body, false),
                "enum_item" => named("enum", body, false),
                "trait_item" => named("trait", body, true),
                "mod_item" => named("module", body, false),
                "type_item" => named("type", None, false),
                "const_item" | "static_item" => named("const", None, false),
                "macro_definition" => named("macro", None, false),
                "impl_item" => {
                    let ty = n.child_by_field_name("type")?;
                    let base = match ty.kind() {
                        "generic_type" => ty.child_by_field_name("type").unwrap_or(ty),
                        _ => ty,
                    };
                    let name = self.text_of(base).to_string();
                    let display = n
                        .child_by_field_name("trait")
                        .map(|t| format!("{} for {}", self.text_of(t), self.text_of(ty)));
                    Some(Def {
                        kind: "impl",
                        name,
                        display,
                        body,
                        container: None,
                        class_like: true,
                    })
                }
                _ => None,
            },
            Lang::Python => match n.kind() {
                "function_definition" => named(fnkind, None, false),
                "class_definition" => named("class", body, true),
                "decorated_definition" => {
                    self.classify(n.child_by_field_name("definition")?, scope)
                }
                _ => None,
            },
            Lang::TypeScript | Lang::Tsx | Lang::JavaScript => match n.kind() {
                "function_declaration"
                | "generator_function_declaration"
                | "function_signature" => named(fnkind, None, false),
                "method_definition" | "method_signature" | "abstract_method_signature" => {
                    named("method", None, false)
                }
                "class_declaration" | "abstract_class_declaration" | "class" => {
                    let name = n
                        .child_by_field_name("name")
                        .map_or_else(|| "default".to_string(), |x| self.text_of(x).to_string());
                    Some(Def {
                        kind: "class",
                        name,
                        display: None,
                        body,
                        container: None,
                        class_like: true,
                    })
                }
                "interface_declaration" => named("interface", body, true),
                "type_alias_declaration" => named("type", None, false),
                "enum_declaration" => named("enum", body, false),
                "internal_module" | "module" => named("module", body, false),
                "export_statement" => {
                    let inner = n
                        .child_by_field_name("declaration")
                        .or_else(|| n.child_by_field_name("value"))?;
                    self.classify(inner, scope)
                }
                "expression_statement" | "ambient_declaration" => {
                    let inner = n.named_child(0)?;
                    if n.kind() == "expression_statement" && inner.kind() != "internal_module" {
                        return None;
                    }
                    self.classify(inner, scope)
                }
                "lexical_declaration" | "variable_declaration" => {
                    let mut cursor = n.walk();
                    let decl = n
                        .named_children(&mut cursor)
                        .find(|c| c.kind() == "variable_declarator")?;
                    let value = decl.child_by_field_name("value")?;
                    let kind = match value.kind() {
                        "arrow_function"
                        | "function_expression"
                        | "function"
                        | "generator_function" => fnkind,
                        "class" => "class",
                        _ => return None,
                    };
                    let name = self.text_of(decl.child_by_field_name("name")?).to_string();
                    Some(Def::plain(kind, name))
                }
                _ => None,
            },
            Lang::Go => match n.kind() {
                "function_declaration" => named("function", None, false),
                "method_declaration" => {
                    let mut d = named("method", None, false)?;
                    d.container = n.child_by_field_name("receiver").and_then(|r| {
                        let t = self.text_of(r);
                        // `(s *Server)`, `(g Gen[T])`, `(Server)`
                        let t = t.trim_matches(|c| c == '(' || c == ')').trim();
                        let ty = t.rsplit(' ').next().unwrap_or(t);
                        let ty = ty.trim_start_matches('*');
                        let ty = ty.split('[').next().unwrap_or(ty);
                        (!ty.is_empty()).then(|| ty.to_string())
                    });
                    Some(d)
                }
                "type_declaration" => {
                    let spec = n.named_child(0)?;
                    let name = self.text_of(spec.child_by_field_name("name")?).to_string();
                    let kind = match spec.child_by_field_name("type").map(|t| t.kind()) {
                        Some("struct_type") => "struct",
                        Some("interface_type") => "interface",
                        _ => "type",
                    };
                    Some(Def::plain(kind, name))
                }
                _ => None,
            },
            Lang::Java => match n.kind() {
                "class_declaration" | "record_declaration" => named("class", body, true),
                "enum_declaration" => named("enum", body, true),
                "interface_declaration" | "annotation_type_declaration" => {
                    named("interface", body, true)
                }
                "method_declaration"
                | "constructor_declaration"
                | "compact_constructor_declaration" => named("method", None, false),
                _ => None,
            },
            Lang::C | Lang::Cpp => match n.kind() {
                "function_definition" => {
                    let name = c_declarator_name(n, self)?;
                    Some(Def {
                        kind: fnkind,
                        name,
                        display: None,
                        body: None,
                        container: None,
                        class_like: false,
                    })
                }
                "struct_specifier" | "union_specifier" if body.is_some() => {
                    named("struct", body, true)
                }
                "class_specifier" if body.is_some() => named("class", body, true),
                "enum_specifier" if body.is_some() => named("enum", body, false),
                "type_definition" => {
                    let d = n.child_by_field_name("declarator")?;
                    Some(Def {
                        kind: "type",
                        name: self.text_of(d).to_string(),
                        display: None,
                        body: None,
                        container: None,
                        class_like: false,
                    })
                }
                "namespace_definition" => {
                    let name = n.child_by_field_name("name").map_or_else(
                        || "(anonymous)".to_string(),
                        |x| self.text_of(x).to_string(),
                    );
                    Some(Def {
                        kind: "module",
                        name,
                        display: None,
                        body,
                        container: None,
                        class_like: false,
                    })
                }
                "template_declaration" => {
                    let count = n.named_child_count();
                    let last = n.named_child(u32::try_from(count.checked_sub(1)?).ok()?)?;
                    self.classify(last, scope)
                }
                _ => None,
            },
            Lang::Shell => match n.kind() {
                "function_definition" => named("function", None, false),
                _ => None,
            },
            Lang::Markdown => match n.kind() {
                "section" => {
                    let h = heading(n)?;
                    let content = h
                        .child_by_field_name("heading_content")
                        .map_or_else(|| self.text_of(h), |c| self.text_of(c));
                    let name = content.trim().trim_matches('#').trim().to_string();
                    Some(Def {
                        kind: "section",
                        name,
                        display: None,
                        body: Some(n),
                        container: None,
                        class_like: false,
                    })
                }
                _ => None,
            },
            Lang::Toml => match n.kind() {
                "table" | "table_array_element" => {
                    let key = n.named_child(0)?;
                    if !matches!(key.kind(), "bare_key" | "dotted_key" | "quoted_key") {
                        return None;
                    }
                    Some(Def {
                        kind: "table",
                        name: self.text_of(key).to_string(),
                        display: None,
                        body: Some(n),
                        container: None,
                        class_like: false,
                    })
                }
                _ => None,
            },
            Lang::Json => match n.kind() {
                "pair" if scope.depth == 0 => {
                    let key = n.child_by_field_name("key")?;
                    let name = self.text_of(key).trim().trim_matches('"').to_string();
                    let value = n
                        .child_by_field_name("value")
                        .filter(|v| matches!(v.kind(), "object" | "array"));
                    Some(Def {
                        kind: "key",
                        name,
                        display: None,
                        body: value,
                        container: None,
                        class_like: false,
                    })
                }
                _ => None,
            },
            Lang::Yaml => match n.kind() {
                "block_mapping_pair" | "flow_pair" if scope.depth == 0 => {
                    let key = n.child_by_field_name("key")?;
                    let name = self.text_of(key).trim().to_string();
                    let value = n
                        .child_by_field_name("value")
                        .and_then(|v| v.named_child(0))
                        .filter(|v| matches!(v.kind(), "block_mapping" | "block_sequence"));
                    Some(Def {
                        kind: "key",
                        name,
                        display: None,
                        body: value,
                        container: None,
                        class_like: false,
                    })
                }
                _ => None,
            },
            Lang::Text => None,
        }
    }
}

/// The heading of a Markdown section (its first named child), if it has one.
fn heading(n: Node) -> Option<Node> {
    let h = n.named_child(0)?;
    matches!(h.kind(), "atx_heading" | "setext_heading").then_some(h)
}

/// The name a C/C++ function definition declares (following nested declarators).
fn c_declarator_name(n: Node, c: &Chunker) -> Option<String> {
    let mut d = n.child_by_field_name("declarator")?;
    for _ in 0..16 {
        match d.child_by_field_name("declarator") {
            Some(inner) => d = inner,
            None => break,
        }
    }
    let name = c.text_of(d).trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// The first line of the first named child of `body` (a container's member list).
fn first_named_child_line(body: Node, c: &Chunker) -> Option<u32> {
    let mut cursor = body.walk();
    let first = body.named_children(&mut cursor).next()?;
    Some(c.first_line(first))
}

fn qualify(container: Option<&str>, name: &str, sep: &str) -> String {
    match container {
        Some(c) => {
            let mut s = String::with_capacity(c.len() + sep.len() + name.len());
            s.push_str(c);
            s.push_str(sep);
            s.push_str(name);
            s
        }
        None => name.to_string(),
    }
}

/// The chunk kind for a symbol kind.
fn chunk_kind(kind: &'static str) -> &'static str {
    kind
}
