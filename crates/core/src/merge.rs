//! The three-way merge of workspace documents: when a client writes a
//! document made from a revision that is no longer the current one, the
//! server merges the client's document (`mine`) into the current revision
//! (`theirs`) against the revision both came from (`base`), and either
//! stores the result or answers with the conflicts for the person to resolve.
//! Nothing either side changed is dropped without a [`Conflict`] naming it.
//!
//! The rules, from the top of a document down:
//!
//! - **Values** one side changed take that side's value; both sides changed
//!   to the same value is no conflict; both changed differently is a
//!   conflict at that path, unless the rules below can merge inside.
//! - **Objects** merge key by key. A key added on one side is kept; removed
//!   on one side and unchanged on the other, removed; removed on one side
//!   and changed on the other, a conflict.
//! - **Folders, requests and saved examples** (the elements of a
//!   collection's `item` lists and of a request's `response` list) are
//!   matched by their `id` across the whole tree, not by position. An
//!   element added on either side is kept; deleted on one side and
//!   untouched on the other, deleted; deleted on one side and changed on
//!   the other, a conflict named by the element (`item[id=abc]`), reported
//!   once, at the highest such element. Changed means: its own fields, its
//!   move to another list, an element added to it or moved into it, or such
//!   a change to an element inside it that was deleted with it. What the
//!   deleting side moved out before deleting is not deleted, and what the
//!   other side deleted or moved out is settled on its own. A move never
//!   conflicts with an edit: an element one side moved (to another folder,
//!   or within its list) and the other edited ends up at its new place with
//!   the edit.
//! - **Rows**: lists of objects that all carry a string `id` (variables
//!   with ids), or all a string `key` (headers, query and form parameters,
//!   variables, environment values, auth parameters), or, in `event`, all a
//!   `listen`, merge row by row, matched by that field and by occurrence
//!   (the second `Cookie` header matches the second `Cookie` header); each
//!   row merges like an object, added and deleted rows like elements.
//! - **Text**: strings that hold a line break (scripts, raw bodies,
//!   descriptions) and script `exec` lists of lines merge line by line
//!   against the base (diff3); edits of the same or adjacent lines are a
//!   conflict on that field.
//! - **Other lists** (`url.path`, `url.host`, lists of scalars) are values.
//!
//! Order of elements and rows: the result follows theirs, and what mine
//! moved or added takes mine's place: after the nearest element before it
//! in mine that neither side moved, and after anything theirs put there
//! too (before the first such element when none precedes it in mine, or at
//! the end when there is none). Object keys are ordered the same way.
//!
//! Ties are broken towards mine, the later write: an element both sides
//! moved to different places goes where mine put it; an element both sides
//! added with the same id goes where mine put it and merges field by field.
//! A folder each side moved into the other (which would make a cycle)
//! stays where theirs put it: mine's move is the one undone. Deleting an
//! element the other side only reordered within its list is a clean
//! delete; deleting one the other side moved to another list is a conflict.
//!
//! Elements of `item` and `response` lists without an id (the server gives
//! every one an id, so this is for documents that escaped it) are matched
//! by their own fields, so one that was edited counts as removed and added:
//! nothing is lost, at worst something is doubled. Rows whose keys repeat
//! match by occurrence, so deleting the first of two `Cookie` headers while
//! the other side edits the second is reported as a conflict; a row whose
//! key one side renamed counts as deleted and added. Ids that repeat in a
//! document (which the server does not make) match by occurrence too.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// What a merge gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Merge {
    /// Every change of both sides, merged.
    Clean(Value),
    /// Both sides changed the same things differently: none of mine may be
    /// applied. `merged` is the merge with theirs kept at every conflict
    /// (an element mine deleted and theirs changed is there as theirs has
    /// it; one theirs deleted and mine changed is not), for showing; it is
    /// not meant to be stored as it is.
    Conflicted {
        conflicts: Vec<Conflict>,
        merged: Value,
    },
}

impl Merge {
    /// The conflicts; empty for a clean merge.
    pub fn conflicts(&self) -> &[Conflict] {
        match self {
            Merge::Clean(_) => &[],
            Merge::Conflicted { conflicts, .. } => conflicts,
        }
    }
}

/// One place both sides changed differently, with its three versions. A
/// version is left out (`None`) where that side has no value there: it
/// deleted it, or never had it; a JSON `null` is a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conflict {
    /// Where, from the document's root, and stable across moves: elements
    /// are named by id and rows by key, as in `item[id=abc].request.url.raw`,
    /// `item[id=abc].request.header[key=Cookie#2].value` (the second
    /// `Cookie`), `event[listen=test].script.exec` or `values[key=token]`.
    pub path: String,
    /// The value in the revision both sides started from.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Value>))]
    pub base: Option<Value>,
    /// The value in the current revision.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Value>))]
    pub theirs: Option<Value>,
    /// The value in the write.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Value>))]
    pub mine: Option<Value>,
}

/// A member that is there is a value, `null` included.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Merges `mine` into `theirs`, both made from `base`.
pub fn merge(base: &Value, theirs: &Value, mine: &Value) -> Merge {
    if theirs == mine || base == mine {
        return Merge::Clean(theirs.clone());
    }
    if base == theirs {
        return Merge::Clean(mine.clone());
    }
    merge_parts(base, theirs, mine)
}

/// [`merge`] without looking at the whole documents first.
fn merge_parts(base: &Value, theirs: &Value, mine: &Value) -> Merge {
    let plan = Plan::new(base, theirs, mine);
    let mut out = Out {
        conflicts: plan.removal_conflicts(),
        emitted: vec![false; plan.names.len()],
    };
    let merged = match (theirs, mine) {
        (Value::Object(t), Value::Object(m)) => Value::Object(plan.object(
            &mut out,
            &Path::Root,
            Some(Owner::Root),
            base.as_object(),
            t,
            m,
        )),
        _ => plan
            .value(
                &mut out,
                &Path::Root,
                "",
                Some(base),
                Some(theirs),
                Some(mine),
            )
            .unwrap_or(Value::Null),
    };
    plan.check_placed(&mut out);
    if out.conflicts.is_empty() {
        Merge::Clean(merged)
    } else {
        Merge::Conflicted {
            conflicts: out.conflicts,
            merged,
        }
    }
}

/// The lists whose elements are matched by id across the whole tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    /// Folders and requests: `item` of the collection and of a folder.
    Item,
    /// Saved examples: `response` of a request.
    Response,
}

impl Field {
    fn key(self) -> &'static str {
        match self {
            Field::Item => "item",
            Field::Response => "response",
        }
    }
}

/// Where a tree element sits: in the list `field` of the element `owner`,
/// or of the document when `owner` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Slot {
    owner: Option<usize>,
    field: Field,
}

/// Whose fields an object merge is working on, which says which of its keys
/// hold tree lists.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Root,
    Node(usize),
}

impl Owner {
    fn tree_field(self, key: &str) -> Option<Field> {
        match (self, key) {
            (_, "item") => Some(Field::Item),
            (Owner::Node(_), "response") => Some(Field::Response),
            _ => None,
        }
    }

    fn slot(self, field: Field) -> Slot {
        let owner = match self {
            Owner::Root => None,
            Owner::Node(n) => Some(n),
        };
        Slot { owner, field }
    }
}

/// What a tree element is called, the same in the three documents.
struct NodeName<'a> {
    /// Its `id`, or for one without, a key made from its own fields.
    id: Cow<'a, str>,
    /// Which element with this id, in document order: 0 unless ids repeat.
    occurrence: u32,
    field: Field,
    /// Set for an element without an id, with its `name` if it has one,
    /// to show in paths.
    anonymous: Option<Option<&'a str>>,
}

impl fmt::Display for NodeName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.field.key();
        match self.anonymous {
            Some(Some(name)) => write!(f, "{field}[name={name}]"),
            Some(None) => write!(f, "{field}[?]"),
            None if self.occurrence == 0 => write!(f, "{field}[id={}]", self.id),
            None => write!(f, "{field}[id={}#{}]", self.id, self.occurrence + 1),
        }
    }
}

/// A path into a document, built as the merge descends, rendered only for
/// a conflict. An element of a tree list starts a path of its own, since
/// its id names it wherever it is.
#[derive(Clone, Copy)]
enum Path<'p> {
    Root,
    Node(&'p NodeName<'p>),
    Key(&'p Path<'p>, &'p str),
    Row {
        list: &'p Path<'p>,
        tag: &'static str,
        name: &'p str,
        occurrence: u32,
    },
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Node(name) => name.fmt(f),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Row {
                list,
                tag,
                name,
                occurrence,
            } => {
                write!(f, "{list}[{tag}={name}")?;
                if *occurrence > 0 {
                    write!(f, "#{}", occurrence + 1)?;
                }
                f.write_str("]")
            }
        }
    }
}

/// A tree element as one document has it.
struct Place<'a> {
    value: &'a Value,
    slot: Slot,
}

/// One document's tree elements: where each is, and each list's order.
#[derive(Default)]
struct Tree<'a> {
    places: Vec<Option<Place<'a>>>,
    lists: HashMap<Slot, Vec<usize>>,
}

impl<'a> Tree<'a> {
    fn place(&self, n: usize) -> Option<&Place<'a>> {
        self.places.get(n).and_then(Option::as_ref)
    }

    fn value(&self, n: usize) -> Option<&'a Value> {
        self.place(n).map(|p| p.value)
    }

    fn list(&self, slot: Slot) -> &[usize] {
        self.lists.get(&slot).map_or(&[], Vec::as_slice)
    }
}

/// Numbers tree elements the same way in the three documents.
#[derive(Default)]
struct Indexer<'a> {
    numbers: HashMap<(Cow<'a, str>, u32), usize>,
    names: Vec<NodeName<'a>>,
}

impl<'a> Indexer<'a> {
    fn tree(&mut self, doc: &'a Value) -> Tree<'a> {
        let mut tree = Tree::default();
        let mut seen = HashMap::new();
        if let Some(Value::Array(items)) = doc.as_object().and_then(|d| d.get("item")) {
            let slot = Slot {
                owner: None,
                field: Field::Item,
            };
            self.walk(&mut tree, &mut seen, items, slot);
        }
        tree
    }

    fn walk(
        &mut self,
        tree: &mut Tree<'a>,
        seen: &mut HashMap<Cow<'a, str>, u32>,
        list: &'a [Value],
        slot: Slot,
    ) {
        let mut here = Vec::with_capacity(list.len());
        for value in list {
            let (id, anonymous) = match value.get("id") {
                Some(Value::String(id)) if !id.is_empty() => (Cow::Borrowed(id.as_str()), None),
                _ => (
                    Cow::Owned(anonymous_key(slot, value)),
                    Some(value.get("name").and_then(Value::as_str)),
                ),
            };
            let count = seen.entry(id.clone()).or_insert(0);
            let occurrence = *count;
            *count += 1;
            let next = self.names.len();
            let n = *self.numbers.entry((id.clone(), occurrence)).or_insert(next);
            if n == next {
                self.names.push(NodeName {
                    id,
                    occurrence,
                    field: slot.field,
                    anonymous,
                });
            }
            if tree.places.len() <= n {
                tree.places.resize_with(n + 1, || None);
            }
            tree.places[n] = Some(Place { value, slot });
            here.push(n);
            for field in [Field::Item, Field::Response] {
                if let Some(Value::Array(children)) = value.get(field.key()) {
                    let slot = Slot {
                        owner: Some(n),
                        field,
                    };
                    self.walk(tree, seen, children, slot);
                }
            }
        }
        tree.lists.insert(slot, here);
    }
}

/// The key of a tree element without an id: where it is and a hash of its
/// own fields (not its children, which have ids of their own).
fn anonymous_key(slot: Slot, value: &Value) -> String {
    let mut hasher = DefaultHasher::new();
    match value {
        Value::Object(fields) => {
            for (key, v) in fields {
                if key != "item" && key != "response" {
                    key.hash(&mut hasher);
                    v.to_string().hash(&mut hasher);
                }
            }
        }
        other => other.to_string().hash(&mut hasher),
    }
    let owner = slot
        .owner
        .map_or_else(|| "root".to_owned(), |n| n.to_string());
    format!("\u{0}{owner}/{}/{:016x}", slot.field.key(), hasher.finish())
}

/// Which side deleted a tree element that the other side changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deleter {
    Theirs,
    Mine,
}

/// Where every tree element ends up, decided before the result is built.
struct Plan<'a> {
    names: Vec<NodeName<'a>>,
    base: Tree<'a>,
    theirs: Tree<'a>,
    mine: Tree<'a>,
    /// The list each element ends up in; `None` for one that is gone.
    fate: Vec<Option<Slot>>,
    /// Set for an element that is where it is because mine moved or added it.
    by_mine: Vec<bool>,
    /// The elements that belong in the result.
    wanted: Vec<bool>,
    /// For a conflict of a deletion with a change: who deleted.
    deleted_by: Vec<Option<Deleter>>,
    /// The elements of each list of the result, in no particular order.
    members: HashMap<Slot, Vec<usize>>,
}

/// What building the result collects.
struct Out {
    conflicts: Vec<Conflict>,
    /// Tree elements already in the result.
    emitted: Vec<bool>,
}

impl Out {
    fn conflict(
        &mut self,
        path: &Path<'_>,
        b: Option<&Value>,
        t: Option<&Value>,
        m: Option<&Value>,
    ) {
        self.conflicts.push(Conflict {
            path: path.to_string(),
            base: b.cloned(),
            theirs: t.cloned(),
            mine: m.cloned(),
        });
    }
}

/// Whether two versions of a tree element have the same own fields: all
/// but its tree lists.
fn same_fields(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let own = |(k, _): &(&String, &Value)| k.as_str() != "item" && k.as_str() != "response";
            a.iter().filter(own).count() == b.iter().filter(own).count()
                && a.iter().filter(own).all(|(k, v)| b.get(k) == Some(v))
        }
        _ => a == b,
    }
}

impl<'a> Plan<'a> {
    fn new(base: &'a Value, theirs: &'a Value, mine: &'a Value) -> Plan<'a> {
        let mut indexer = Indexer::default();
        let base = indexer.tree(base);
        let theirs = indexer.tree(theirs);
        let mine = indexer.tree(mine);
        let count = indexer.names.len();
        let mut plan = Plan {
            names: indexer.names,
            base,
            theirs,
            mine,
            fate: vec![None; count],
            by_mine: vec![false; count],
            wanted: vec![false; count],
            deleted_by: vec![None; count],
            members: HashMap::new(),
        };
        plan.decide();
        plan.keep_with_conflicts();
        plan.wanted = plan.fate.iter().map(Option::is_some).collect();
        while plan.rehome_orphans() || plan.break_cycle() {}
        for (n, slot) in plan.fate.iter().enumerate() {
            if let Some(slot) = slot {
                plan.members.entry(*slot).or_default().push(n);
            }
        }
        plan
    }

    /// Decides, element by element, whether it stays and in which list.
    fn decide(&mut self) {
        for n in 0..self.names.len() {
            let b = self.base.place(n);
            let (fate, by_mine, deleted_by) = match (self.theirs.place(n), self.mine.place(n)) {
                (Some(t), Some(m)) => {
                    let moved = b.is_none_or(|b| b.slot != m.slot);
                    (Some(if moved { m.slot } else { t.slot }), moved, None)
                }
                (Some(t), None) => match b {
                    None => (Some(t.slot), false, None),
                    // Shown as theirs has it, for the person to resolve.
                    Some(_) if self.changed(n, &self.theirs, &self.mine) => {
                        (Some(t.slot), false, Some(Deleter::Mine))
                    }
                    Some(_) => (None, false, None),
                },
                (None, Some(m)) => match b {
                    None => (Some(m.slot), true, None),
                    Some(_) if self.changed(n, &self.mine, &self.theirs) => {
                        (None, false, Some(Deleter::Theirs))
                    }
                    Some(_) => (None, false, None),
                },
                (None, None) => (None, false, None),
            };
            self.fate[n] = fate;
            self.by_mine[n] = by_mine;
            self.deleted_by[n] = deleted_by;
        }
    }

    /// Whether `side` changed an element that `deleter` deleted, which
    /// makes a conflict: its own fields, the list it is in, an element
    /// added to or moved into it, or a change of this kind to an element
    /// under it that `deleter` deleted with it. An element `side` deleted
    /// or moved out, or one `deleter` moved out before deleting, is no
    /// change of it: each is settled on its own.
    fn changed(&self, n: usize, side: &Tree<'a>, deleter: &Tree<'a>) -> bool {
        let (Some(b), Some(s)) = (self.base.place(n), side.place(n)) else {
            return true;
        };
        if b.slot != s.slot || !same_fields(b.value, s.value) {
            return true;
        }
        [Field::Item, Field::Response].into_iter().any(|field| {
            let slot = Owner::Node(n).slot(field);
            side.list(slot).iter().any(|&c| {
                let was_here = self.base.place(c).is_some_and(|p| p.slot == slot);
                !was_here || (deleter.place(c).is_none() && self.changed(c, side, deleter))
            })
        })
    }

    /// An element mine deleted and theirs changed is shown as theirs has
    /// it, with all it holds there, even what theirs did not change.
    fn keep_with_conflicts(&mut self) {
        let mut stack: Vec<(usize, bool)> = self
            .theirs
            .list(Owner::Root.slot(Field::Item))
            .iter()
            .map(|&n| (n, false))
            .collect();
        while let Some((n, parent_kept)) = stack.pop() {
            let kept = self.deleted_by[n] == Some(Deleter::Mine)
                || (parent_kept && self.mine.place(n).is_none() && self.base.place(n).is_some());
            if kept && self.fate[n].is_none() {
                self.fate[n] = self.theirs.place(n).map(|t| t.slot);
            }
            for field in [Field::Item, Field::Response] {
                let slot = Owner::Node(n).slot(field);
                stack.extend(self.theirs.list(slot).iter().map(|&c| (c, kept)));
            }
        }
    }

    /// Puts an element whose list's owner is gone where theirs has it, or
    /// drops it when that is gone too. This only happens beside a
    /// conflict, and [`Plan::check_placed`] makes sure of it.
    fn rehome_orphans(&mut self) -> bool {
        let mut changed = false;
        for n in 0..self.fate.len() {
            let Some(slot) = self.fate[n] else { continue };
            if slot.owner.is_none_or(|o| self.fate[o].is_some()) {
                continue;
            }
            let fallback = self
                .theirs
                .place(n)
                .map(|t| t.slot)
                .filter(|s| *s != slot && s.owner.is_none_or(|o| self.fate[o].is_some()));
            self.fate[n] = fallback;
            self.by_mine[n] = false;
            changed = true;
        }
        changed
    }

    /// Finds one cycle of folders, if any, and undoes a move of mine in it.
    fn break_cycle(&mut self) -> bool {
        const NEW: u8 = 0;
        const ON_PATH: u8 = 1;
        const DONE: u8 = 2;
        let mut state = vec![NEW; self.fate.len()];
        for start in 0..self.fate.len() {
            if self.fate[start].is_none() || state[start] != NEW {
                continue;
            }
            let mut path = Vec::new();
            let mut n = start;
            loop {
                if state[n] == DONE {
                    break;
                }
                if state[n] == ON_PATH {
                    let at = path.iter().position(|&p| p == n).unwrap_or(0);
                    let cycle = &path[at..];
                    let undo = cycle
                        .iter()
                        .copied()
                        .find(|&c| self.by_mine[c] && self.theirs.place(c).is_some());
                    match undo {
                        Some(c) => {
                            self.fate[c] = self.theirs.place(c).map(|t| t.slot);
                            self.by_mine[c] = false;
                        }
                        // Each side's own tree has no cycle, so a move of
                        // mine is always found; should it not be, break
                        // the cycle anyway.
                        None => self.fate[cycle[0]] = None,
                    }
                    return true;
                }
                state[n] = ON_PATH;
                path.push(n);
                match self.fate[n].and_then(|s| s.owner) {
                    Some(p) if self.fate[p].is_some() => n = p,
                    _ => break,
                }
            }
            for p in path {
                state[p] = DONE;
            }
        }
        false
    }

    /// The conflicts of deletions with changes, each reported at the
    /// highest element: one whose parent on the side that kept it was not
    /// deleted the same way.
    fn removal_conflicts(&self) -> Vec<Conflict> {
        let mut conflicts = Vec::new();
        for (n, deleted_by) in self.deleted_by.iter().enumerate() {
            let Some(deleted_by) = *deleted_by else {
                continue;
            };
            let kept_by = match deleted_by {
                Deleter::Mine => &self.theirs,
                Deleter::Theirs => &self.mine,
            };
            let parent = kept_by.place(n).and_then(|p| p.slot.owner);
            if parent.is_some_and(|p| self.deleted_by[p] == Some(deleted_by)) {
                continue;
            }
            conflicts.push(Conflict {
                path: self.names[n].to_string(),
                base: self.base.value(n).cloned(),
                theirs: self.theirs.value(n).cloned(),
                mine: self.mine.value(n).cloned(),
            });
        }
        conflicts
    }

    /// Reports an element that should be in the result and is not, which
    /// the rules above never let happen: a conflict rather than a loss.
    fn check_placed(&self, out: &mut Out) {
        if !out.conflicts.is_empty() {
            return;
        }
        for n in 0..self.names.len() {
            if self.wanted[n] && !out.emitted[n] {
                out.conflict(
                    &Path::Node(&self.names[n]),
                    self.base.value(n),
                    self.theirs.value(n),
                    self.mine.value(n),
                );
            }
        }
    }

    /// Merges one value of each side (`None` where a side has none).
    /// `field` is the key the value is under, which tells script lines.
    fn value(
        &self,
        out: &mut Out,
        path: &Path<'_>,
        field: &str,
        b: Option<&Value>,
        t: Option<&Value>,
        m: Option<&Value>,
    ) -> Option<Value> {
        if t == m || b == m {
            return t.cloned();
        }
        if b == t {
            return m.cloned();
        }
        let (Some(t), Some(m)) = (t, m) else {
            out.conflict(path, b, t, m);
            return t.cloned();
        };
        match (t, m) {
            (Value::Object(to), Value::Object(mo)) => Some(Value::Object(self.object(
                out,
                path,
                None,
                b.and_then(Value::as_object),
                to,
                mo,
            ))),
            (Value::Array(ta), Value::Array(ma)) => Some(self.list(out, path, field, b, ta, ma)),
            (Value::String(ts), Value::String(ms)) => {
                if let Some(Value::String(bs)) = b {
                    if [bs, ts, ms].iter().any(|s| s.contains('\n')) {
                        if let Ok(text) = diffy::merge(bs, ts, ms) {
                            return Some(Value::String(text));
                        }
                    }
                }
                out.conflict(path, b, Some(t), Some(m));
                Some(t.clone())
            }
            _ => {
                out.conflict(path, b, Some(t), Some(m));
                Some(t.clone())
            }
        }
    }

    /// Merges two objects key by key. With an `owner`, its tree lists are
    /// built from the plan rather than merged as values.
    fn object(
        &self,
        out: &mut Out,
        path: &Path<'_>,
        owner: Option<Owner>,
        b: Option<&Map<String, Value>>,
        t: &Map<String, Value>,
        m: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut merged: HashMap<&str, Value> = HashMap::with_capacity(t.len());
        let mut members = Vec::with_capacity(t.len());
        let keys = t.keys().chain(m.keys().filter(|k| !t.contains_key(*k)));
        for key in keys {
            let (bv, tv, mv) = (b.and_then(|b| b.get(key)), t.get(key), m.get(key));
            let tree = owner.and_then(|o| o.tree_field(key).map(|f| o.slot(f)));
            let value = match tree {
                Some(slot) => self.children(out, slot, bv, tv, mv),
                None => self.value(out, &Path::Key(path, key), key, bv, tv, mv),
            };
            if let Some(value) = value {
                merged.insert(key, value);
                members.push(key.as_str());
            }
        }
        let bk: Vec<&str> = b.map_or_else(Vec::new, |b| b.keys().map(String::as_str).collect());
        let tk: Vec<&str> = t.keys().map(String::as_str).collect();
        let mk: Vec<&str> = m.keys().map(String::as_str).collect();
        order(&bk, &tk, &mk, &members)
            .into_iter()
            .filter_map(|k| merged.remove(k).map(|v| (k.to_owned(), v)))
            .collect()
    }

    /// A tree list of the result: the elements the plan put in `slot`, each
    /// merged. The three sides' values tell only whether an empty list
    /// stays.
    fn children(
        &self,
        out: &mut Out,
        slot: Slot,
        b: Option<&Value>,
        t: Option<&Value>,
        m: Option<&Value>,
    ) -> Option<Value> {
        let members = self.members.get(&slot).map_or(&[][..], Vec::as_slice);
        if members.is_empty() {
            let decider = if t.is_some() != b.is_some() { t } else { m };
            return decider.map(|v| match v {
                Value::Array(_) => Value::Array(Vec::new()),
                other => other.clone(),
            });
        }
        let ordered = order(
            self.base.list(slot),
            self.theirs.list(slot),
            self.mine.list(slot),
            members,
        );
        let mut list = Vec::with_capacity(ordered.len());
        for n in ordered {
            if !out.emitted[n] {
                out.emitted[n] = true;
                list.push(self.node(out, n));
            }
        }
        Some(Value::Array(list))
    }

    /// One tree element of the result: its fields merged, its lists built.
    fn node(&self, out: &mut Out, n: usize) -> Value {
        let b = self.base.value(n);
        let (b, t, m) = match (self.theirs.value(n), self.mine.value(n)) {
            (Some(t), Some(m)) => (b, t, m),
            // Added by one side, or kept for a conflict: as that side has it.
            (Some(only), None) | (None, Some(only)) => (Some(only), only, only),
            (None, None) => return Value::Null,
        };
        let path = Path::Node(&self.names[n]);
        match (t, m) {
            (Value::Object(to), Value::Object(mo)) => Value::Object(self.object(
                out,
                &path,
                Some(Owner::Node(n)),
                b.and_then(Value::as_object),
                to,
                mo,
            )),
            _ => self
                .value(out, &path, "", b, Some(t), Some(m))
                .unwrap_or(Value::Null),
        }
    }

    /// Merges two lists both sides changed: row by row, or line by line for
    /// script lines; other lists are values.
    fn list(
        &self,
        out: &mut Out,
        path: &Path<'_>,
        field: &str,
        b: Option<&Value>,
        t: &[Value],
        m: &[Value],
    ) -> Value {
        let base = b.and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        if let Some(tag) = row_tag(field, [base, t, m]) {
            return Value::Array(self.rows(out, path, tag, base, t, m));
        }
        if field == "exec" {
            if let Some(merged) = merge_lines(b, t, m) {
                match merged {
                    Ok(lines) => return Value::Array(lines),
                    Err(()) => {
                        out.conflict(
                            path,
                            b,
                            Some(&Value::Array(t.to_vec())),
                            Some(&Value::Array(m.to_vec())),
                        );
                        return Value::Array(t.to_vec());
                    }
                }
            }
        }
        let (t, m) = (Value::Array(t.to_vec()), Value::Array(m.to_vec()));
        out.conflict(path, b, Some(&t), Some(&m));
        t
    }

    /// Merges rows matched by the field `tag` and occurrence.
    fn rows<'v>(
        &self,
        out: &mut Out,
        path: &Path<'_>,
        tag: &'static str,
        b: &'v [Value],
        t: &'v [Value],
        m: &'v [Value],
    ) -> Vec<Value> {
        let (bk, tk, mk) = (row_keys(b, tag), row_keys(t, tag), row_keys(m, tag));
        let index = |keys: &[RowKey<'v>], rows: &'v [Value]| -> HashMap<RowKey<'v>, &'v Value> {
            keys.iter().copied().zip(rows).collect()
        };
        let (bi, ti, mi) = (index(&bk, b), index(&tk, t), index(&mk, m));
        let mut merged = HashMap::with_capacity(tk.len().max(mk.len()));
        let mut members = Vec::with_capacity(tk.len().max(mk.len()));
        // A row only the base has was deleted on both sides.
        for &key in tk.iter().chain(mk.iter().filter(|k| !ti.contains_key(*k))) {
            let row = Path::Row {
                list: path,
                tag,
                name: key.0,
                occurrence: key.1,
            };
            let (bv, tv, mv) = (
                bi.get(&key).copied(),
                ti.get(&key).copied(),
                mi.get(&key).copied(),
            );
            if let Some(value) = self.value(out, &row, "", bv, tv, mv) {
                merged.insert(key, value);
                members.push(key);
            }
        }
        order(&bk, &tk, &mk, &members)
            .into_iter()
            .filter_map(|key| merged.remove(&key))
            .collect()
    }
}

/// A row's name: the value of its matching field, and which row with that
/// value it is, in order.
type RowKey<'v> = (&'v str, u32);

fn row_keys<'v>(rows: &'v [Value], tag: &str) -> Vec<RowKey<'v>> {
    let mut seen: HashMap<&str, u32> = HashMap::new();
    rows.iter()
        .map(|row| {
            let name = row.get(tag).and_then(Value::as_str).unwrap_or("");
            let count = seen.entry(name).or_insert(0);
            let occurrence = *count;
            *count += 1;
            (name, occurrence)
        })
        .collect()
}

/// The field rows of these lists are matched by, if they are rows: a
/// non-empty `id` on every row, else a `key`, else, for `event`, a `listen`.
fn row_tag(field: &str, lists: [&[Value]; 3]) -> Option<&'static str> {
    let all = |tag: &str, non_empty: bool| {
        lists.iter().all(|list| {
            list.iter().all(|row| match row.get(tag) {
                Some(Value::String(s)) => !non_empty || !s.is_empty(),
                _ => false,
            })
        })
    };
    if lists.iter().all(|list| list.is_empty()) {
        None
    } else if all("id", true) {
        Some("id")
    } else if all("key", false) {
        Some("key")
    } else if field == "event" && all("listen", false) {
        Some("listen")
    } else {
        None
    }
}

/// Merges script lines as text, line by line: `None` if these are not
/// lists of lines, `Err` for overlapping edits.
fn merge_lines(b: Option<&Value>, t: &[Value], m: &[Value]) -> Option<Result<Vec<Value>, ()>> {
    fn text(lines: &[Value]) -> Option<String> {
        let mut text = String::new();
        for line in lines {
            let line = line.as_str().filter(|l| !l.contains('\n'))?;
            text.push_str(line);
            text.push('\n');
        }
        Some(text)
    }
    let base = match b {
        None | Some(Value::Null) => String::new(),
        Some(Value::Array(lines)) => text(lines)?,
        Some(Value::String(s)) if s.is_empty() || s.ends_with('\n') => s.clone(),
        Some(Value::String(s)) => format!("{s}\n"),
        Some(_) => return None,
    };
    let (t, m) = (text(t)?, text(m)?);
    Some(match diffy::merge(&base, &t, &m) {
        Ok(merged) => Ok(merged
            .strip_suffix('\n')
            .map(|all| {
                all.split('\n')
                    .map(|l| Value::String(l.to_owned()))
                    .collect()
            })
            .unwrap_or_default()),
        Err(_) => Err(()),
    })
}

/// The order of a merged list whose elements are `members`, from each
/// side's order: theirs', with what mine moved or added put where mine has
/// it (see the module's documentation). Every member appears once.
fn order<K: Copy + Eq + Hash>(base: &[K], theirs: &[K], mine: &[K], members: &[K]) -> Vec<K> {
    let keep: HashSet<K> = members.iter().copied().collect();
    let mut ordered: Vec<K> = Vec::with_capacity(members.len());
    if mine == base || mine == theirs {
        ordered.extend(theirs.iter().copied().filter(|k| keep.contains(k)));
    } else {
        let at: HashMap<K, usize> = base.iter().copied().zip(0..).collect();
        let mine_kept = unmoved(&at, mine);
        let theirs_kept = unmoved(&at, theirs);
        let moved_by_mine: HashSet<K> = mine
            .iter()
            .copied()
            .filter(|k| !mine_kept.contains(k))
            .collect();
        let stay: Vec<K> = theirs
            .iter()
            .copied()
            .filter(|k| keep.contains(k) && !moved_by_mine.contains(k))
            .collect();
        // Elements neither side moved: what mine's moved and new elements
        // are placed next to.
        let anchors: HashSet<K> = stay
            .iter()
            .copied()
            .filter(|k| theirs_kept.contains(k) && mine_kept.contains(k))
            .collect();
        let mut first = None;
        let mut before_first = Vec::new();
        let mut after: HashMap<K, Vec<K>> = HashMap::new();
        let mut anchor = None;
        for &k in mine {
            if anchors.contains(&k) {
                anchor = Some(k);
                first.get_or_insert(k);
            } else if moved_by_mine.contains(&k) && keep.contains(&k) {
                match anchor {
                    None => before_first.push(k),
                    Some(a) => after.entry(a).or_default().push(k),
                }
            }
        }
        // Mine's elements after an anchor go after theirs' too, just before
        // the next anchor: the later write comes second.
        let mut pending = Vec::new();
        for k in stay {
            if anchors.contains(&k) {
                ordered.append(&mut pending);
                if Some(k) == first {
                    ordered.append(&mut before_first);
                }
                ordered.push(k);
                pending = after.remove(&k).unwrap_or_default();
            } else {
                ordered.push(k);
            }
        }
        ordered.append(&mut pending);
        ordered.append(&mut before_first);
    }
    if ordered.len() != members.len() {
        let placed: HashSet<K> = ordered.iter().copied().collect();
        ordered.extend(members.iter().copied().filter(|k| !placed.contains(k)));
    }
    ordered
}

/// The elements of `list` that keep their order relative to the base: a
/// longest run of them in increasing base position.
fn unmoved<K: Copy + Eq + Hash>(at: &HashMap<K, usize>, list: &[K]) -> HashSet<K> {
    let common: Vec<(K, usize)> = list
        .iter()
        .filter_map(|k| at.get(k).map(|&p| (*k, p)))
        .collect();
    // Patience sorting: `tails[j]` ends the best run of length j + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = Vec::with_capacity(common.len());
    for (i, &(_, p)) in common.iter().enumerate() {
        let j = tails.partition_point(|&e| common[e].1 < p);
        previous.push(j.checked_sub(1).map(|j| tails[j]));
        if j == tails.len() {
            tails.push(i);
        } else {
            tails[j] = i;
        }
    }
    let mut kept = HashSet::with_capacity(tails.len());
    let mut at_end = tails.last().copied();
    while let Some(i) = at_end {
        kept.insert(common[i].0);
        at_end = previous[i];
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postman;
    use serde_json::json;

    fn clean(merge: Merge) -> Value {
        match merge {
            Merge::Clean(merged) => merged,
            Merge::Conflicted { conflicts, .. } => panic!("expected a clean merge: {conflicts:#?}"),
        }
    }

    fn paths(merge: &Merge) -> Vec<&str> {
        merge.conflicts().iter().map(|c| c.path.as_str()).collect()
    }

    /// The element with this id, wherever it is.
    fn node<'v>(doc: &'v mut Value, id: &str) -> &'v mut Value {
        fn find(list: &Value, id: &str, route: &mut Vec<(&'static str, usize)>) -> bool {
            for (i, element) in list.as_array().into_iter().flatten().enumerate() {
                if element["id"] == id {
                    route.push(("", i));
                    return true;
                }
                for field in ["item", "response"] {
                    if let Some(list) = element.get(field) {
                        route.push((field, i));
                        if find(list, id, route) {
                            return true;
                        }
                        route.pop();
                    }
                }
            }
            false
        }
        let mut route = Vec::new();
        assert!(find(&doc["item"], id, &mut route), "no element {id}");
        let mut here = &mut doc["item"];
        for (field, i) in route {
            here = &mut here[i];
            if !field.is_empty() {
                here = &mut here[field];
            }
        }
        here
    }

    /// Takes the element with this id out of its list.
    fn take(doc: &mut Value, id: &str) -> Value {
        fn find(list: &mut Value, id: &str) -> Option<Value> {
            let list = list.as_array_mut()?;
            if let Some(at) = list.iter().position(|e| e["id"] == id) {
                return Some(list.remove(at));
            }
            for element in list {
                for field in ["item", "response"] {
                    if element.get(field).is_some() {
                        if let Some(found) = find(&mut element[field], id) {
                            return Some(found);
                        }
                    }
                }
            }
            None
        }
        find(&mut doc["item"], id).unwrap_or_else(|| panic!("no element {id}"))
    }

    /// Puts an element into a folder's `item` (the collection's for `None`).
    fn put(doc: &mut Value, folder: Option<&str>, at: usize, element: Value) {
        let list = match folder {
            None => &mut doc["item"],
            Some(id) => &mut node(doc, id)["item"],
        };
        let list = list.as_array_mut().expect("a folder");
        let at = at.min(list.len());
        list.insert(at, element);
    }

    /// Every element's id with its parent's (`""` for the collection), in
    /// document order.
    fn placed(doc: &Value) -> Vec<(String, String)> {
        fn walk(list: &Value, parent: &str, out: &mut Vec<(String, String)>) {
            for element in list.as_array().into_iter().flatten() {
                let id = element["id"].as_str().unwrap_or("?").to_owned();
                out.push((id.clone(), parent.to_owned()));
                for field in ["item", "response"] {
                    if let Some(list) = element.get(field) {
                        walk(list, &id, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&doc["item"], "", &mut out);
        out
    }

    fn ids_in(doc: &Value, folder: Option<&str>) -> Vec<String> {
        let list = match folder {
            None => &doc["item"],
            Some(id) => &node(&mut doc.clone(), id)["item"].clone(),
        };
        list.as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn shop() -> Value {
        json!({
            "info": {"_postman_id": "c1", "name": "Shop", "schema": postman::SCHEMA_V21},
            "item": [
                {"id": "f-users", "name": "Users", "item": [
                    {"id": "r-list", "name": "List users",
                     "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": [
                         "pm.test(\"status\", function () {",
                         "    pm.response.to.have.status(200);",
                         "});",
                         "",
                         "pm.test(\"json\", function () {",
                         "    pm.response.to.be.json;",
                         "});"
                     ]}}],
                     "request": {"method": "GET",
                                 "header": [{"key": "Accept", "value": "application/json"}],
                                 "url": {"raw": "{{base}}/users", "host": ["{{base}}"], "path": ["users"]}},
                     "response": [{"id": "ex-list", "name": "200", "code": 200, "body": "[]"}]},
                    {"id": "r-get", "name": "Get user",
                     "request": {"method": "GET",
                                 "header": [{"key": "Accept", "value": "application/json"},
                                            {"key": "Cookie", "value": "a=1"},
                                            {"key": "Cookie", "value": "b=2"}],
                                 "url": {"raw": "{{base}}/users/1", "host": ["{{base}}"], "path": ["users", "1"]}}}
                ]},
                {"id": "f-orders", "name": "Orders", "item": [
                    {"id": "r-create", "name": "Create order",
                     "request": {"method": "POST",
                                 "header": [{"key": "Content-Type", "value": "application/json"}],
                                 "body": {"mode": "raw", "raw": "{\n  \"sku\": \"A1\",\n  \"qty\": 1,\n  \"gift\": false,\n  \"note\": \"\"\n}"},
                                 "url": {"raw": "{{base}}/orders", "host": ["{{base}}"], "path": ["orders"]}}}
                ]},
                {"id": "r-health", "name": "Health", "request": {"method": "GET", "url": "{{base}}/health"}}
            ],
            "variable": [{"key": "base", "value": "https://shop.test"}]
        })
    }

    #[test]
    fn edits_of_different_requests_merge() {
        let base = shop();
        let mut theirs = base.clone();
        node(&mut theirs, "r-list")["request"]["url"]["raw"] = json!("{{base}}/users?page=1");
        let mut mine = base.clone();
        node(&mut mine, "r-create")["request"]["method"] = json!("PUT");
        node(&mut mine, "r-create")["name"] = json!("Put order");
        let mut merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(
            node(&mut merged, "r-list")["request"]["url"]["raw"],
            "{{base}}/users?page=1"
        );
        assert_eq!(node(&mut merged, "r-create")["request"]["method"], "PUT");
        assert_eq!(node(&mut merged, "r-create")["name"], "Put order");
        assert_eq!(placed(&merged), placed(&base));
        // The same edits the other way round give the same document.
        assert_eq!(clean(merge(&base, &mine, &theirs)), merged);
    }

    #[test]
    fn one_url_edited_both_ways_is_a_conflict() {
        let base = shop();
        let mut theirs = base.clone();
        node(&mut theirs, "r-get")["request"]["url"]["raw"] = json!("{{base}}/users/2");
        node(&mut theirs, "r-health")["name"] = json!("Ping");
        let mut mine = base.clone();
        node(&mut mine, "r-get")["request"]["url"]["raw"] = json!("{{base}}/users/me");
        let merged = merge(&base, &theirs, &mine);
        assert_eq!(
            merged.conflicts(),
            [Conflict {
                path: "item[id=r-get].request.url.raw".into(),
                base: Some(json!("{{base}}/users/1")),
                theirs: Some(json!("{{base}}/users/2")),
                mine: Some(json!("{{base}}/users/me")),
            }]
        );
        // Shown with theirs kept at the conflict and the rest merged.
        let Merge::Conflicted {
            merged: mut shown, ..
        } = merged
        else {
            unreachable!()
        };
        assert_eq!(
            node(&mut shown, "r-get")["request"]["url"]["raw"],
            "{{base}}/users/2"
        );
        assert_eq!(node(&mut shown, "r-health")["name"], "Ping");
    }

    #[test]
    fn a_request_moved_to_another_folder_keeps_the_other_sides_edit() {
        let base = shop();
        let mut moved = base.clone();
        let get = take(&mut moved, "r-get");
        put(&mut moved, Some("f-orders"), 0, get);
        let mut edited = base.clone();
        node(&mut edited, "r-get")["request"]["url"]["raw"] = json!("{{base}}/users/2");
        for (theirs, mine) in [(&moved, &edited), (&edited, &moved)] {
            let mut merged = clean(merge(&base, theirs, mine));
            assert_eq!(ids_in(&merged, Some("f-orders")), ["r-get", "r-create"]);
            assert_eq!(ids_in(&merged, Some("f-users")), ["r-list"]);
            assert_eq!(
                node(&mut merged, "r-get")["request"]["url"]["raw"],
                "{{base}}/users/2"
            );
        }
    }

    #[test]
    fn a_reorder_keeps_the_other_sides_edit() {
        let base = shop();
        let mut theirs = base.clone();
        node(&mut theirs, "r-list")["name"] = json!("All users");
        let mut mine = base.clone();
        let list = take(&mut mine, "r-list");
        put(&mut mine, Some("f-users"), 1, list);
        let health = take(&mut mine, "r-health");
        put(&mut mine, None, 0, health);
        let mut merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(ids_in(&merged, Some("f-users")), ["r-get", "r-list"]);
        assert_eq!(ids_in(&merged, None), ["r-health", "f-users", "f-orders"]);
        assert_eq!(node(&mut merged, "r-list")["name"], "All users");
    }

    #[test]
    fn both_moving_one_request_puts_it_where_mine_did() {
        let base = shop();
        let mut theirs = base.clone();
        let health = take(&mut theirs, "r-health");
        put(&mut theirs, Some("f-users"), 0, health);
        let mut mine = base.clone();
        let health = take(&mut mine, "r-health");
        put(&mut mine, Some("f-orders"), 1, health);
        let merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(ids_in(&merged, Some("f-orders")), ["r-create", "r-health"]);
        assert_eq!(ids_in(&merged, Some("f-users")), ["r-list", "r-get"]);
    }

    #[test]
    fn folders_moved_into_each_other_keep_theirs_move() {
        let base = shop();
        let mut theirs = base.clone();
        let orders = take(&mut theirs, "f-orders");
        put(&mut theirs, Some("f-users"), 2, orders);
        let mut mine = base.clone();
        let users = take(&mut mine, "f-users");
        put(&mut mine, Some("f-orders"), 0, users);
        node(&mut mine, "r-create")["name"] = json!("New order");
        let mut merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(ids_in(&merged, None), ["f-users", "r-health"]);
        assert_eq!(
            ids_in(&merged, Some("f-users")),
            ["r-list", "r-get", "f-orders"]
        );
        assert_eq!(node(&mut merged, "r-create")["name"], "New order");
        let mut ids: Vec<_> = placed(&merged).into_iter().map(|(id, _)| id).collect();
        ids.sort();
        let mut want: Vec<_> = placed(&base).into_iter().map(|(id, _)| id).collect();
        want.sort();
        assert_eq!(ids, want);
    }

    #[test]
    fn deleting_what_the_other_side_edited_is_a_conflict() {
        let base = shop();
        let mut theirs = base.clone();
        take(&mut theirs, "r-get");
        let mut mine = base.clone();
        node(&mut mine, "r-get")["name"] = json!("Get me");
        let merged = merge(&base, &theirs, &mine);
        let [conflict] = merged.conflicts() else {
            panic!("{merged:#?}")
        };
        assert_eq!(conflict.path, "item[id=r-get]");
        assert_eq!(conflict.theirs, None);
        assert_eq!(conflict.mine.as_ref().unwrap()["name"], "Get me");
        // And the other way round: shown as theirs has it.
        let merged = merge(&base, &mine, &theirs);
        assert_eq!(paths(&merged), ["item[id=r-get]"]);
        let Merge::Conflicted {
            merged: mut shown, ..
        } = merged
        else {
            unreachable!()
        };
        assert_eq!(node(&mut shown, "r-get")["name"], "Get me");
    }

    #[test]
    fn deleting_what_the_other_side_left_alone_deletes_it() {
        let base = shop();
        let mut theirs = base.clone();
        take(&mut theirs, "r-get");
        take(&mut theirs, "ex-list");
        let mut mine = base.clone();
        node(&mut mine, "r-list")["request"]["method"] = json!("HEAD");
        // Reordering within its list does not save it.
        let create = take(&mut mine, "f-orders");
        put(&mut mine, None, 0, create);
        let mut merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(ids_in(&merged, Some("f-users")), ["r-list"]);
        assert_eq!(node(&mut merged, "r-list")["response"], json!([]));
        assert_eq!(node(&mut merged, "r-list")["request"]["method"], "HEAD");
        assert_eq!(ids_in(&merged, None), ["f-orders", "f-users", "r-health"]);
    }

    #[test]
    fn a_deleted_folder_with_an_edit_inside_is_one_conflict() {
        let base = shop();
        let mut theirs = base.clone();
        take(&mut theirs, "f-users");
        let mut mine = base.clone();
        node(&mut mine, "r-get")["request"]["url"]["raw"] = json!("{{base}}/users/2");
        node(&mut mine, "ex-list")["code"] = json!(201);
        let merged = merge(&base, &theirs, &mine);
        assert_eq!(paths(&merged), ["item[id=f-users]"]);
        // A request moved into a deleted folder saves it from deletion.
        let mut mine = base.clone();
        let health = take(&mut mine, "r-health");
        put(&mut mine, Some("f-users"), 0, health);
        assert_eq!(paths(&merge(&base, &theirs, &mine)), ["item[id=f-users]"]);
        // A request moved out of the folder the other side deleted with it
        // is a conflict of its own; the folder is deleted.
        let mut mine = base.clone();
        let get = take(&mut mine, "r-get");
        put(&mut mine, None, 0, get);
        assert_eq!(paths(&merge(&base, &theirs, &mine)), ["item[id=r-get]"]);
    }

    #[test]
    fn deleting_what_the_other_side_moved() {
        let base = shop();
        let mut theirs = base.clone();
        take(&mut theirs, "r-get");
        // Reordered within its folder: deleted.
        let mut mine = base.clone();
        let get = take(&mut mine, "r-get");
        put(&mut mine, Some("f-users"), 0, get);
        let merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(ids_in(&merged, Some("f-users")), ["r-list"]);
        // Moved to another folder: a conflict.
        let mut mine = base.clone();
        let get = take(&mut mine, "r-get");
        put(&mut mine, Some("f-orders"), 0, get);
        assert_eq!(paths(&merge(&base, &theirs, &mine)), ["item[id=r-get]"]);
        // Deleted on both sides: deleted.
        let mut mine = base.clone();
        take(&mut mine, "r-get");
        node(&mut mine, "r-health")["name"] = json!("Ping");
        let mut merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(ids_in(&merged, Some("f-users")), ["r-list"]);
        assert_eq!(node(&mut merged, "r-health")["name"], "Ping");
    }

    #[test]
    fn a_folder_mine_deleted_is_shown_whole_beside_the_conflict() {
        let base = shop();
        let mut theirs = base.clone();
        node(&mut theirs, "r-get")["name"] = json!("Get me");
        node(&mut theirs, "r-health")["name"] = json!("Ping");
        let mut mine = base.clone();
        take(&mut mine, "f-users");
        let merged = merge(&base, &theirs, &mine);
        assert_eq!(paths(&merged), ["item[id=f-users]"]);
        let Merge::Conflicted {
            merged: mut shown, ..
        } = merged
        else {
            unreachable!()
        };
        assert_eq!(ids_in(&shown, Some("f-users")), ["r-list", "r-get"]);
        assert_eq!(node(&mut shown, "ex-list")["name"], "200");
        assert_eq!(node(&mut shown, "r-health")["name"], "Ping");
    }

    #[test]
    fn repeated_ids_are_kept_apart() {
        let base = shop();
        let mut theirs = base.clone();
        let copy = node(&mut theirs, "r-health").clone();
        put(&mut theirs, None, 9, copy);
        let mut mine = base.clone();
        node(&mut mine, "r-health")["name"] = json!("Ping");
        let merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(
            ids_in(&merged, None),
            ["f-users", "f-orders", "r-health", "r-health"]
        );
        assert_eq!(merged["item"][2]["name"], "Ping");
        assert_eq!(merged["item"][3]["name"], "Health");
    }

    #[test]
    fn a_request_moved_out_of_a_folder_the_other_side_deleted_survives() {
        let base = shop();
        let mut theirs = base.clone();
        let get = take(&mut theirs, "r-get");
        put(&mut theirs, Some("f-orders"), 1, get);
        take(&mut theirs, "f-users");
        let mut mine = base.clone();
        node(&mut mine, "r-get")["name"] = json!("Get me");
        let mut merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(ids_in(&merged, None), ["f-orders", "r-health"]);
        assert_eq!(ids_in(&merged, Some("f-orders")), ["r-create", "r-get"]);
        assert_eq!(node(&mut merged, "r-get")["name"], "Get me");
    }

    #[test]
    fn requests_added_on_both_sides_are_kept() {
        let base = shop();
        let mut theirs = base.clone();
        let t = json!({"id": "r-t", "name": "Theirs", "request": {"url": "x"}});
        put(&mut theirs, Some("f-users"), 9, t);
        let mut mine = base.clone();
        let m = json!({"id": "r-m", "name": "Mine", "request": {"url": "y"}});
        put(&mut mine, Some("f-users"), 9, m);
        let first = json!({"id": "r-0", "name": "First", "request": {"url": "z"}});
        put(&mut mine, None, 0, first);
        let merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(
            ids_in(&merged, Some("f-users")),
            ["r-list", "r-get", "r-t", "r-m"]
        );
        assert_eq!(
            ids_in(&merged, None),
            ["r-0", "f-users", "f-orders", "r-health"]
        );
    }

    #[test]
    fn saved_examples_merge_by_id() {
        let base = shop();
        let mut theirs = base.clone();
        node(&mut theirs, "ex-list")["body"] = json!("[{\"id\": 1}]");
        let mut mine = base.clone();
        node(&mut mine, "r-list")["response"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "ex-404", "name": "404", "code": 404}));
        let mut merged = clean(merge(&base, &theirs, &mine));
        let examples = &node(&mut merged, "r-list")["response"];
        assert_eq!(examples[0]["body"], "[{\"id\": 1}]");
        assert_eq!(examples[1]["id"], "ex-404");
        // Mine adds the first examples of a request that had none.
        let mut mine = base.clone();
        node(&mut mine, "r-health")["response"] = json!([{"id": "ex-h", "code": 200}]);
        let mut merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(node(&mut merged, "r-health")["response"][0]["id"], "ex-h");
    }

    #[test]
    fn environment_values_added_on_both_sides() {
        let base = json!({"id": "e1", "name": "Staging", "values": [
            {"key": "base", "value": "https://staging.test", "enabled": true, "type": "default"},
            {"key": "user", "value": "ada", "enabled": true, "type": "default"}
        ]});
        let mut theirs = base.clone();
        theirs["values"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "token", "value": "t-1", "enabled": true, "type": "secret"}));
        theirs["values"][1]["enabled"] = json!(false);
        let mut mine = base.clone();
        mine["values"].as_array_mut().unwrap().insert(
            1,
            json!({"key": "timeout", "value": "30", "enabled": true, "type": "default"}),
        );
        mine["values"][1 + 1]["value"] = json!("grace");
        let merged = clean(merge(&base, &theirs, &mine));
        let keys: Vec<_> = merged["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["base", "timeout", "user", "token"]);
        assert_eq!(
            merged["values"][2],
            json!({"key": "user", "value": "grace", "enabled": false, "type": "default"})
        );
        // The same variable added on both sides: one row if they agree.
        let mut mine = theirs.clone();
        mine["values"][1]["enabled"] = json!(true);
        let merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(merged["values"].as_array().unwrap().len(), 3);
        // A conflict on its value if they do not.
        mine["values"][2]["value"] = json!("t-2");
        assert_eq!(
            paths(&merge(&base, &theirs, &mine)),
            ["values[key=token].value"]
        );
    }

    #[test]
    fn test_scripts_merge_line_by_line() {
        let base = shop();
        let exec = |doc: &mut Value| -> Vec<Value> {
            node(doc, "r-list")["event"][0]["script"]["exec"]
                .as_array()
                .unwrap()
                .clone()
        };
        let mut theirs = base.clone();
        node(&mut theirs, "r-list")["event"][0]["script"]["exec"][1] =
            json!("    pm.response.to.have.status(201);");
        let mut mine = base.clone();
        node(&mut mine, "r-list")["event"][0]["script"]["exec"][5] =
            json!("    pm.response.to.have.jsonBody();");
        node(&mut mine, "r-list")["event"][0]["script"]["exec"]
            .as_array_mut()
            .unwrap()
            .push(json!("// done"));
        let mut merged = clean(merge(&base, &theirs, &mine));
        let lines = exec(&mut merged);
        assert_eq!(lines[1], "    pm.response.to.have.status(201);");
        assert_eq!(lines[5], "    pm.response.to.have.jsonBody();");
        assert_eq!(lines.len(), 8);
        assert_eq!(lines[7], "// done");
        // The same line both ways.
        node(&mut mine, "r-list")["event"][0]["script"]["exec"][1] =
            json!("    pm.response.to.have.status(204);");
        let merged = merge(&base, &theirs, &mine);
        assert_eq!(
            paths(&merged),
            ["item[id=r-list].event[listen=test].script.exec"]
        );
        // A script kept as one string merges the same way.
        let as_text = |doc: &mut Value| {
            let script = &mut node(doc, "r-list")["event"][0]["script"];
            let lines: Vec<&str> = script["exec"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            script["exec"] = json!(lines.join("\n"));
        };
        let (mut base, mut theirs, mut mine) = (base.clone(), theirs, mine.clone());
        node(&mut mine, "r-list")["event"][0]["script"]["exec"][1] =
            json!("    pm.response.to.have.status(200);");
        for doc in [&mut base, &mut theirs, &mut mine] {
            as_text(doc);
        }
        let mut merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(
            node(&mut merged, "r-list")["event"][0]["script"]["exec"],
            "pm.test(\"status\", function () {\n    pm.response.to.have.status(201);\n});\n\npm.test(\"json\", function () {\n    pm.response.to.have.jsonBody();\n});\n// done"
        );
    }

    #[test]
    fn raw_bodies_merge_line_by_line() {
        let base = shop();
        let body = |doc: &mut Value, raw: &str| {
            node(doc, "r-create")["request"]["body"]["raw"] = json!(raw);
        };
        let mut theirs = base.clone();
        body(
            &mut theirs,
            "{\n  \"sku\": \"B2\",\n  \"qty\": 1,\n  \"gift\": false,\n  \"note\": \"\"\n}",
        );
        let mut mine = base.clone();
        body(
            &mut mine,
            "{\n  \"sku\": \"A1\",\n  \"qty\": 1,\n  \"gift\": false,\n  \"note\": \"ring twice\"\n}",
        );
        let mut merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(
            node(&mut merged, "r-create")["request"]["body"]["raw"],
            "{\n  \"sku\": \"B2\",\n  \"qty\": 1,\n  \"gift\": false,\n  \"note\": \"ring twice\"\n}"
        );
        body(
            &mut mine,
            "{\n  \"sku\": \"C3\",\n  \"qty\": 1,\n  \"gift\": false,\n  \"note\": \"\"\n}",
        );
        assert_eq!(
            paths(&merge(&base, &theirs, &mine)),
            ["item[id=r-create].request.body.raw"]
        );
    }

    #[test]
    fn headers_added_on_both_sides() {
        let base = shop();
        let add = |doc: &mut Value, key: &str, value: &str| {
            node(doc, "r-get")["request"]["header"]
                .as_array_mut()
                .unwrap()
                .push(json!({"key": key, "value": value}));
        };
        let mut theirs = base.clone();
        add(&mut theirs, "X-Trace", "on");
        let mut mine = base.clone();
        add(&mut mine, "X-Trace", "off");
        let merged = merge(&base, &theirs, &mine);
        assert_eq!(
            merged.conflicts(),
            [Conflict {
                path: "item[id=r-get].request.header[key=X-Trace].value".into(),
                base: None,
                theirs: Some(json!("on")),
                mine: Some(json!("off")),
            }]
        );
        let mut mine = base.clone();
        add(&mut mine, "X-Trace", "on");
        add(&mut mine, "X-Mine", "1");
        let mut merged = clean(merge(&base, &theirs, &mine));
        let keys: Vec<_> = node(&mut merged, "r-get")["request"]["header"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["key"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(keys, ["Accept", "Cookie", "Cookie", "X-Trace", "X-Mine"]);
    }

    #[test]
    fn repeated_header_keys_match_by_occurrence() {
        let base = shop();
        let mut theirs = base.clone();
        node(&mut theirs, "r-get")["request"]["header"][2]["value"] = json!("b=3");
        let mut mine = base.clone();
        node(&mut mine, "r-get")["request"]["header"][1]["value"] = json!("a=0");
        let mut merged = clean(merge(&base, &theirs, &mine));
        assert_eq!(
            node(&mut merged, "r-get")["request"]["header"],
            json!([{"key": "Accept", "value": "application/json"},
                   {"key": "Cookie", "value": "a=0"},
                   {"key": "Cookie", "value": "b=3"}])
        );
        node(&mut mine, "r-get")["request"]["header"][2]["value"] = json!("b=4");
        assert_eq!(
            paths(&merge(&base, &theirs, &mine)),
            ["item[id=r-get].request.header[key=Cookie#2].value"]
        );
    }

    #[test]
    fn keys_removed_on_one_side() {
        let base = json!({"name": "Preset", "description": "old", "headers": []});
        let mut theirs = base.clone();
        theirs.as_object_mut().unwrap().remove("description");
        let mut mine = base.clone();
        mine["headers"] = json!([{"key": "Accept", "value": "*/*"}]);
        assert_eq!(
            clean(merge(&base, &theirs, &mine)),
            json!({"name": "Preset", "headers": [{"key": "Accept", "value": "*/*"}]})
        );
        mine["description"] = json!("new");
        let merged = merge(&base, &theirs, &mine);
        assert_eq!(
            merged.conflicts(),
            [Conflict {
                path: "description".into(),
                base: Some(json!("old")),
                theirs: None,
                mine: Some(json!("new")),
            }]
        );
    }

    #[test]
    fn lists_of_scalars_are_values() {
        let base = shop();
        let mut theirs = base.clone();
        node(&mut theirs, "r-get")["request"]["url"]["path"] = json!(["users", "2"]);
        let mut mine = base.clone();
        node(&mut mine, "r-get")["request"]["url"]["path"] = json!(["people", "1"]);
        assert_eq!(
            paths(&merge(&base, &theirs, &mine)),
            ["item[id=r-get].request.url.path"]
        );
    }

    #[test]
    fn conflicts_as_json() {
        let conflict = Conflict {
            path: "item[id=a].request.url".into(),
            base: Some(Value::Null),
            theirs: None,
            mine: Some(json!({"raw": "x"})),
        };
        let text = serde_json::to_value(&conflict).unwrap();
        assert_eq!(
            text,
            json!({"path": "item[id=a].request.url", "base": null, "mine": {"raw": "x"}})
        );
        let back: Conflict = serde_json::from_value(text).unwrap();
        assert_eq!(back, conflict);
    }

    #[test]
    fn elements_without_ids_are_matched_by_their_fields() {
        let base = json!({"info": {"name": "A"}, "item": [
            {"name": "one", "request": {"url": "1"}},
            {"name": "two", "request": {"url": "2"}}
        ]});
        let mut theirs = base.clone();
        theirs["item"][0]["request"]["url"] = json!("1b");
        let mut mine = base.clone();
        mine["item"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "three", "request": {"url": "3"}}));
        assert_eq!(
            clean(merge(&base, &theirs, &mine))["item"],
            json!([{"name": "one", "request": {"url": "1b"}},
                   {"name": "two", "request": {"url": "2"}},
                   {"name": "three", "request": {"url": "3"}}])
        );
    }

    #[test]
    fn real_exports_merge() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/postman");
        let read = |name: &str| -> Value {
            let text = std::fs::read_to_string(dir.join(name))
                .expect("../shared/data/postman is beside the repository");
            serde_json::from_str(&text).unwrap()
        };
        let mut n = 0;
        let mut base = read("realworld__Conduit.postman_collection.json");
        postman::assign_ids(&mut base, &mut || {
            n += 1;
            format!("id-{n}")
        });
        let folders = ids_in(&base, None);
        let first = ids_in(&base, Some(&folders[0]));
        let last = ids_in(&base, Some(&folders[folders.len() - 1]));
        // Theirs edits the first request's test script and another's URL;
        // mine moves the first request into the last folder, edits its
        // script elsewhere, and adds a header to another request.
        let mut theirs = base.clone();
        let script = &mut node(&mut theirs, &first[0])["event"][0]["script"]["exec"];
        script[0] = json!("// checked by theirs");
        node(&mut theirs, &last[0])["request"]["url"]["raw"] = json!("{{APIURL}}/changed");
        let mut mine = base.clone();
        let moved = take(&mut mine, &first[0]);
        put(&mut mine, Some(&folders[folders.len() - 1]), 0, moved);
        let script = &mut node(&mut mine, &first[0])["event"][0]["script"]["exec"];
        let lines = script.as_array_mut().unwrap();
        lines.push(json!("// checked by mine"));
        node(&mut mine, &first[1])["request"]["header"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "X-Mine", "value": "1"}));
        let mut merged = clean(merge(&base, &theirs, &mine));
        postman::check_collection(&merged).unwrap();
        let moved = ids_in(&merged, Some(&folders[folders.len() - 1]));
        assert_eq!(moved[0], first[0]);
        let script = node(&mut merged, &first[0])["event"][0]["script"]["exec"].clone();
        let script = script.as_array().unwrap();
        assert_eq!(script[0], "// checked by theirs");
        assert_eq!(script[script.len() - 1], "// checked by mine");
        assert_eq!(
            node(&mut merged, &last[0])["request"]["url"]["raw"],
            "{{APIURL}}/changed"
        );
        let header = node(&mut merged, &first[1])["request"]["header"].clone();
        assert_eq!(header.as_array().unwrap().last().unwrap()["key"], "X-Mine");
        assert_eq!(placed(&merged).len(), placed(&base).len());
    }

    /// A 5,000-request collection of about 50 MB, changed all over on both
    /// sides, merges in well under a second in release:
    /// `cargo test -p postroom-core --release -- --ignored large`.
    #[test]
    #[ignore = "a timing check, for release builds"]
    fn a_large_collection_merges_quickly() {
        let body: String = (0..160)
            .map(|i| format!("  \"field_{i}\": \"{}\",\n", "v".repeat(40)))
            .collect();
        let folders: Vec<Value> = (0..50)
            .map(|f| {
                let requests: Vec<Value> = (0..100)
                    .map(|r| {
                        let id = format!("r{f}-{r}");
                        json!({
                            "id": id, "name": format!("Request {id}"),
                            "event": [{"listen": "test", "script": {"exec": (0..20).map(|l| format!("pm.test(\"{l}\", () => {{}});")).collect::<Vec<_>>()}}],
                            "request": {
                                "method": "POST",
                                "header": (0..10).map(|h| json!({"key": format!("X-H{h}"), "value": "v"})).collect::<Vec<_>>(),
                                "body": {"mode": "raw", "raw": format!("{{\n{body}}}")},
                                "url": {"raw": format!("https://api.test/{id}"), "host": ["api", "test"], "path": [id]}
                            },
                            "response": [{"id": format!("{id}-ex"), "name": "ok", "body": "x".repeat(1000)}]
                        })
                    })
                    .collect();
                json!({"id": format!("f{f}"), "name": format!("Folder {f}"), "item": requests})
            })
            .collect();
        let base =
            json!({"info": {"name": "Large", "schema": postman::SCHEMA_V21}, "item": folders});
        let size = serde_json::to_string(&base).unwrap().len();
        assert!(size > 45_000_000, "{size} bytes");
        let mut theirs = base.clone();
        let mut mine = base.clone();
        for k in 0..200 {
            let (f, r) = (k % 50, k / 50);
            node(&mut theirs, &format!("r{f}-{r}"))["request"]["url"]["raw"] =
                json!("https://t.test");
            node(&mut mine, &format!("r{f}-{}", r + 10))["name"] = json!("mine");
            node(&mut mine, &format!("r{f}-{}", r + 20))["event"][0]["script"]["exec"][3] =
                json!("// mine");
        }
        for k in 0..100 {
            let moved = take(&mut theirs, &format!("r{}-{}", k % 50, 50 + k / 50));
            put(&mut theirs, Some(&format!("f{}", (k + 7) % 50)), k, moved);
            put(
                &mut mine,
                Some(&format!("f{}", k % 50)),
                k,
                json!({"id": format!("new{k}"), "request": {"url": "x"}}),
            );
        }
        for k in 0..50 {
            take(&mut theirs, &format!("r{k}-99"));
            let moved = take(&mut mine, &format!("r{k}-60"));
            put(&mut mine, None, 0, moved);
        }
        let started = std::time::Instant::now();
        let merged = clean(merge(&base, &theirs, &mine));
        let took = started.elapsed();
        eprintln!("merged {size} bytes in {took:?}");
        assert_eq!(placed(&merged).len(), placed(&base).len());
        if !cfg!(debug_assertions) {
            assert!(took < std::time::Duration::from_secs(1), "{took:?}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A tree's shape: a request, or a folder of shapes.
        #[derive(Debug, Clone)]
        enum Shape {
            Request,
            Folder(Vec<Shape>),
        }

        fn shape() -> impl Strategy<Value = Vec<Shape>> {
            let leaf = Just(Shape::Request);
            let tree = leaf.prop_recursive(3, 40, 5, |inner| {
                prop::collection::vec(inner, 0..5).prop_map(Shape::Folder)
            });
            prop::collection::vec(tree, 1..7)
        }

        fn lines(id: &str, what: &str) -> Vec<Value> {
            (0..6)
                .map(|i| json!(format!("// {what} {id} {i}")))
                .collect()
        }

        fn request(id: &str) -> Value {
            json!({
                "id": id,
                "name": format!("Request {id}"),
                "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": lines(id, "test")}}],
                "request": {
                    "method": "GET",
                    "header": [{"key": "Accept", "value": "*/*"}, {"key": "X-Id", "value": id}],
                    "body": {"mode": "raw", "raw": lines(id, "body").iter().map(|l| l.as_str().unwrap()).collect::<Vec<_>>().join("\n")},
                    "url": {"raw": format!("https://api.test/{id}"), "host": ["api", "test"], "path": [id]}
                },
                "response": [{"id": format!("{id}-ex"), "name": "ok", "code": 200}]
            })
        }

        /// A collection of that shape, with ids `r<n>` and `f<n>` in
        /// document order.
        fn collection(shape: &[Shape]) -> Value {
            fn build(shape: &[Shape], count: &mut usize) -> Vec<Value> {
                shape
                    .iter()
                    .map(|s| {
                        *count += 1;
                        match s {
                            Shape::Request => request(&format!("r{count}")),
                            Shape::Folder(children) => {
                                let id = format!("f{count}");
                                json!({"id": id, "name": format!("Folder {id}"), "item": build(children, count)})
                            }
                        }
                    })
                    .collect()
            }
            let mut count = 0;
            json!({
                "info": {"_postman_id": "c", "name": "Generated", "schema": postman::SCHEMA_V21},
                "item": build(shape, &mut count),
                "variable": [{"key": "base", "value": "https://api.test"}]
            })
        }

        #[derive(Debug, Clone, Copy, PartialEq)]
        enum Side {
            Theirs,
            Mine,
        }

        /// Who may delete a request: a quarter each side, which the other
        /// side then leaves alone; the other half both sides edit and move.
        fn deletable_by(index: usize) -> Option<Side> {
            match index % 4 {
                1 => Some(Side::Theirs),
                3 => Some(Side::Mine),
                _ => None,
            }
        }

        fn is_inside(doc: &Value, folder: &str, maybe_ancestor: &str) -> bool {
            let parents: HashMap<String, String> = placed(doc).into_iter().collect();
            let mut at = folder.to_owned();
            loop {
                if at == maybe_ancestor {
                    return true;
                }
                match parents.get(&at) {
                    Some(p) if !p.is_empty() => at = p.clone(),
                    _ => return false,
                }
            }
        }

        /// Applies a side's edits, chosen by `ops`, to `doc`, touching only
        /// fields and requests that side may touch so that the two sides'
        /// edits never overlap. Moves and new requests go anywhere.
        fn edit(doc: &mut Value, base: &Value, side: Side, ops: &[(u8, u16, u16)]) {
            let all = placed(base);
            let requests: Vec<&str> = all
                .iter()
                .map(|(id, _)| id.as_str())
                .filter(|id| id.starts_with('r') && !id.ends_with("-ex"))
                .collect();
            let folders: Vec<&str> = all
                .iter()
                .map(|(id, _)| id.as_str())
                .filter(|id| id.starts_with('f'))
                .collect();
            let tag = match side {
                Side::Theirs => "t",
                Side::Mine => "m",
            };
            let mut deleted: HashSet<String> = HashSet::new();
            for (k, &(op, a, b)) in ops.iter().enumerate() {
                let (a, b) = (a as usize, b as usize);
                let folder = (b % (folders.len() + 1) < folders.len())
                    .then(|| folders[b % (folders.len() + 1)]);
                let Some(&r) = requests.get(a % requests.len().max(1)) else {
                    continue;
                };
                let index: usize = r[1..].parse().unwrap();
                let may = match deletable_by(index) {
                    None => true,
                    Some(owner) => owner == side,
                };
                if !may || deleted.contains(r) {
                    continue;
                }
                match (op % 8, side) {
                    (0, Side::Theirs) => {
                        node(doc, r)["request"]["url"]["raw"] = json!(format!("https://t.test/{k}"))
                    }
                    (0, Side::Mine) => node(doc, r)["name"] = json!(format!("mine {k}")),
                    (1, Side::Theirs) => {
                        node(doc, r)["request"]["header"][1]["value"] = json!(format!("t{k}"))
                    }
                    (1, Side::Mine) => node(doc, r)["request"]["header"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"key": format!("X-Mine-{}", b % 3), "value": "m"})),
                    (2, _) => {
                        let line = if side == Side::Theirs { 0 } else { 5 };
                        let element = node(doc, r);
                        element["event"][0]["script"]["exec"][line] =
                            json!(format!("// {tag} {k}"));
                        let raw = element["request"]["body"]["raw"]
                            .as_str()
                            .unwrap()
                            .to_owned();
                        let mut raw: Vec<String> = raw.split('\n').map(str::to_owned).collect();
                        raw[line] = format!("{tag} {k}");
                        element["request"]["body"]["raw"] = json!(raw.join("\n"));
                    }
                    (3, _) if deletable_by(index) == Some(side) => {
                        take(doc, r);
                        deleted.insert(r.to_owned());
                    }
                    (4, _) if deletable_by(index).is_none() => {
                        let moved = take(doc, r);
                        put(doc, folder, b / 7, moved);
                    }
                    (5, _) => {
                        let new = request(&format!("r{tag}-new{k}"));
                        put(doc, folder, b / 7, new);
                    }
                    (6, _) => {
                        let Some(f) = folders.get(a % folders.len().max(1)) else {
                            continue;
                        };
                        if folder.is_some_and(|to| is_inside(doc, to, f)) {
                            continue;
                        }
                        let moved = take(doc, f);
                        put(doc, folder, b / 7, moved);
                    }
                    (7, Side::Theirs) => {
                        node(doc, &format!("{r}-ex"))["name"] = json!(format!("t{k}"))
                    }
                    (7, Side::Mine) => node(doc, r)["response"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"id": format!("{r}-mex{k}"), "name": "m"})),
                    _ => {}
                }
            }
        }

        fn ops() -> impl Strategy<Value = Vec<(u8, u16, u16)>> {
            prop::collection::vec(any::<(u8, u16, u16)>(), 0..14)
        }

        /// What a request of the merge must be: theirs' with mine's edits
        /// (mine's name, added headers and examples, last script and body
        /// line), or the one side's that has it.
        fn expected(base: Option<&Value>, theirs: Option<&Value>, mine: Option<&Value>) -> Value {
            let (Some(b), Some(t), Some(m)) = (base, theirs, mine) else {
                return theirs.or(mine).unwrap().clone();
            };
            let mut want = t.clone();
            want["name"] = m["name"].clone();
            for list in ["/request/header", "/response"] {
                let from = b.pointer(list).unwrap().as_array().unwrap().len();
                let added = &m.pointer(list).unwrap().as_array().unwrap()[from..];
                want.pointer_mut(list)
                    .unwrap()
                    .as_array_mut()
                    .unwrap()
                    .extend(added.iter().cloned());
            }
            want["event"][0]["script"]["exec"][5] = m["event"][0]["script"]["exec"][5].clone();
            let raw = |v: &Value| -> Vec<String> {
                v["request"]["body"]["raw"]
                    .as_str()
                    .unwrap()
                    .split('\n')
                    .map(str::to_owned)
                    .collect()
            };
            let mut lines = raw(t);
            lines[5] = raw(m)[5].clone();
            want["request"]["body"]["raw"] = json!(lines.join("\n"));
            want
        }

        fn all_ids(doc: &Value) -> Vec<String> {
            let mut ids: Vec<String> = placed(doc).into_iter().map(|(id, _)| id).collect();
            ids.sort();
            ids
        }

        /// A folder's own fields and a request without its examples' order.
        fn without_children(v: &Value) -> Value {
            let mut v = v.clone();
            if let Some(obj) = v.as_object_mut() {
                obj.remove("item");
            }
            v
        }

        fn by_id(doc: &Value) -> HashMap<String, Value> {
            let mut found = HashMap::new();
            fn walk(list: &Value, found: &mut HashMap<String, Value>) {
                for element in list.as_array().into_iter().flatten() {
                    found.insert(
                        element["id"].as_str().unwrap().to_owned(),
                        without_children(element),
                    );
                    if let Some(children) = element.get("item") {
                        walk(children, found);
                    }
                }
            }
            walk(&doc["item"], &mut found);
            found
        }

        /// Small JSON objects whose keys collide often.
        fn object() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                (0..3i64).prop_map(Value::from),
                "[xy]{0,2}".prop_map(Value::String),
                Just(Value::Null),
                Just(json!({})),
                Just(json!([1, 2])),
            ];
            let tree = leaf.prop_recursive(3, 24, 4, |inner| {
                prop::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect()))
            });
            prop::collection::btree_map("[a-d]", tree, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        }

        /// Sets (or, for `delete`, removes) the value at a path of keys.
        fn set(doc: &mut Value, path: &[u8], delete: bool, value: Value) {
            let key = |k: u8| ((b'a' + k % 4) as char).to_string();
            let (last, inner) = path.split_last().unwrap();
            let mut here = doc;
            for &k in inner {
                if delete && here.get(key(k)).is_none() {
                    return;
                }
                if !here.is_object() {
                    *here = json!({});
                }
                here = here
                    .as_object_mut()
                    .unwrap()
                    .entry(key(k))
                    .or_insert(json!({}));
            }
            match here.as_object_mut() {
                Some(obj) if delete => {
                    obj.remove(&key(*last));
                }
                Some(obj) => {
                    obj.insert(key(*last), value);
                }
                None if delete => {}
                None => *here = json!({ key(*last): value }),
            }
        }

        fn changes() -> impl Strategy<Value = Vec<(Vec<u8>, bool, Value)>> {
            let leaf = prop_oneof![
                (0..3i64).prop_map(Value::from),
                "[xyz]{0,2}".prop_map(Value::String),
                Just(json!({}))
            ];
            prop::collection::vec(
                (
                    prop::collection::vec(0..4u8, 1..4),
                    prop::bool::weighted(0.3),
                    leaf,
                ),
                0..5,
            )
        }

        /// Every value under its path of keys; an empty object is a value
        /// when `empty` is set.
        fn leaves(v: &Value, empty: bool) -> HashMap<String, Value> {
            fn walk(v: &Value, path: &str, empty: bool, out: &mut HashMap<String, Value>) {
                match v {
                    Value::Object(obj) if !obj.is_empty() || path.is_empty() => {
                        for (k, v) in obj {
                            let p = if path.is_empty() {
                                k.clone()
                            } else {
                                format!("{path}.{k}")
                            };
                            walk(v, &p, empty, out);
                        }
                    }
                    Value::Object(_) if !empty => {}
                    other => {
                        out.insert(path.to_owned(), other.clone());
                    }
                }
            }
            let mut out = HashMap::new();
            walk(v, "", empty, &mut out);
            out
        }

        /// The paths where `side` differs from `base`.
        fn changed(base: &Value, side: &Value) -> Vec<String> {
            let (b, s) = (leaves(base, true), leaves(side, true));
            let mut paths: Vec<String> = b
                .keys()
                .chain(s.keys())
                .filter(|p| b.get(*p) != s.get(*p))
                .cloned()
                .collect();
            paths.sort();
            paths.dedup();
            paths
        }

        fn under(path: &str, prefix: &str) -> bool {
            path == prefix || path.starts_with(&format!("{prefix}."))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            /// No value either side changed is dropped without a conflict
            /// naming it: a clean merge has, at every path, the value of
            /// the side that changed it; a conflict is only where both
            /// sides changed something; and changes at unrelated paths
            /// always merge cleanly.
            #[test]
            fn nothing_is_dropped_without_a_conflict(base in object(), t_changes in changes(), m_changes in changes()) {
                let mut theirs = base.clone();
                for (path, delete, value) in t_changes {
                    set(&mut theirs, &path, delete, value);
                }
                let mut mine = base.clone();
                for (path, delete, value) in m_changes {
                    set(&mut mine, &path, delete, value);
                }
                let (t_changed, m_changed) = (changed(&base, &theirs), changed(&base, &mine));
                // Changes are related when one is under the other, or when
                // an object holding both is not an object on every side.
                let object_at = |doc: &Value, keys: &[&str]| keys.iter().try_fold(doc, |v, k| v.get(*k)).is_some_and(Value::is_object);
                let related = t_changed.iter().any(|t| m_changed.iter().any(|m| {
                    let (tk, mk): (Vec<&str>, Vec<&str>) = (t.split('.').collect(), m.split('.').collect());
                    let common = tk.iter().zip(&mk).take_while(|(a, b)| a == b).count();
                    under(t, m) || under(m, t) || (1..=common).any(|n| [&base, &theirs, &mine].iter().any(|doc| !object_at(doc, &tk[..n])))
                }));
                match merge(&base, &theirs, &mine) {
                    Merge::Clean(merged) => {
                        let (b, t, m, r) = (leaves(&base, false), leaves(&theirs, false), leaves(&mine, false), leaves(&merged, false));
                        for path in b.keys().chain(t.keys()).chain(m.keys()).chain(r.keys()) {
                            let (bv, tv, mv, rv) = (b.get(path), t.get(path), m.get(path), r.get(path));
                            let want = if tv == mv || bv == mv { tv } else if bv == tv { mv } else {
                                return Err(TestCaseError::fail(format!("{path} changed both ways, merged cleanly")));
                            };
                            prop_assert_eq!(rv, want, "at {}", path);
                        }
                    }
                    Merge::Conflicted { conflicts, .. } => {
                        prop_assert!(related, "unrelated changes conflict: {:?}", conflicts);
                        for c in conflicts {
                            prop_assert!(t_changed.iter().any(|p| under(p, &c.path)), "{} not changed by theirs", c.path);
                            prop_assert!(m_changed.iter().any(|p| under(p, &c.path)), "{} not changed by mine", c.path);
                        }
                    }
                }
            }

            /// Without looking at the whole documents first, a side that
            /// changed nothing gives the other side's document, key order
            /// and all, and so do two sides that made the same changes.
            #[test]
            fn one_sided_changes_come_through_whole(shape in shape(), t_ops in ops(), m_ops in ops()) {
                let base = collection(&shape);
                let mut x = base.clone();
                edit(&mut x, &base, Side::Theirs, &t_ops);
                edit(&mut x, &base, Side::Mine, &m_ops);
                let text = |m: Merge| match m {
                    Merge::Clean(v) => serde_json::to_string(&v).unwrap(),
                    Merge::Conflicted { conflicts, .. } => format!("conflicts: {conflicts:?}"),
                };
                let want = serde_json::to_string(&x).unwrap();
                prop_assert_eq!(text(merge_parts(&base, &x, &x)), want.clone());
                prop_assert_eq!(text(merge_parts(&base, &base, &x)), want.clone());
                prop_assert_eq!(text(merge_parts(&base, &x, &base)), want.clone());
                prop_assert_eq!(text(merge(&base, &x, &x)), want.clone());
                prop_assert_eq!(text(merge(&base, &base, &x)), want.clone());
                prop_assert_eq!(text(merge(&base, &x, &base)), want);
            }

            /// Edits of different fields, deletions of what the other side
            /// left alone, moves, reorders and additions on both sides merge
            /// cleanly, and the result holds every one of them, with every
            /// id exactly once.
            #[test]
            fn disjoint_edits_merge_with_both_sides_changes(shape in shape(), t_ops in ops(), m_ops in ops()) {
                let base = collection(&shape);
                let mut theirs = base.clone();
                edit(&mut theirs, &base, Side::Theirs, &t_ops);
                let mut mine = base.clone();
                edit(&mut mine, &base, Side::Mine, &m_ops);
                let merged = match merge(&base, &theirs, &mine) {
                    Merge::Clean(merged) => merged,
                    Merge::Conflicted { conflicts, .. } => {
                        return Err(TestCaseError::fail(format!("conflicts: {conflicts:#?}")));
                    }
                };
                postman::check_collection(&merged).unwrap();
                let got = placed(&merged);
                let ids = all_ids(&merged);
                let mut unique = ids.clone();
                unique.dedup();
                prop_assert_eq!(&unique, &ids, "an id twice");
                let (b_ids, t_ids, m_ids) = (all_ids(&base), all_ids(&theirs), all_ids(&mine));
                let mut want: Vec<String> = t_ids.iter().filter(|id| m_ids.contains(id) || !b_ids.contains(id)).cloned().collect();
                want.extend(m_ids.iter().filter(|id| !t_ids.contains(id) && !b_ids.contains(id)).cloned());
                want.sort();
                prop_assert_eq!(&ids, &want);
                let parents = |doc: &Value| -> HashMap<String, String> { placed(doc).into_iter().collect() };
                let (bp, tp, mp) = (parents(&base), parents(&theirs), parents(&mine));
                let (bn, tn, mn) = (by_id(&base), by_id(&theirs), by_id(&mine));
                for (id, parent) in &got {
                    if id.ends_with("ex") || id.contains("-mex") {
                        continue;
                    }
                    let mine_moved = mp.get(id).is_some_and(|p| bp.get(id) != Some(p));
                    let want_parent = if mine_moved { &mp[id] } else { tp.get(id).unwrap_or_else(|| &mp[id]) };
                    if id.starts_with('f') {
                        // A folder may stay where theirs has it, to break a cycle.
                        prop_assert!(parent == want_parent || tp.get(id) == Some(parent), "{} in {}", id, parent);
                    } else {
                        prop_assert_eq!(parent, want_parent, "{} is in the wrong folder", id);
                        let want = expected(bn.get(id), tn.get(id), mn.get(id));
                        prop_assert_eq!(&by_id(&merged)[id], &want, "{}", id);
                    }
                }
            }

            /// The same URL changed both ways is one conflict, named, whatever
            /// else either side did.
            #[test]
            fn one_field_changed_both_ways_is_named(shape in shape(), t_ops in ops(), m_ops in ops(), pick in any::<prop::sample::Index>()) {
                // Two requests first, so that there are some of each kind.
                let shape: Vec<Shape> = [Shape::Request, Shape::Request].into_iter().chain(shape).collect();
                let base = collection(&shape);
                let requests: Vec<String> = placed(&base).into_iter().map(|(id, _)| id)
                    .filter(|id| id.starts_with('r') && !id.ends_with("ex") && deletable_by(id[1..].parse().unwrap()).is_none())
                    .collect();
                let r = pick.get(&requests);
                let mut theirs = base.clone();
                edit(&mut theirs, &base, Side::Theirs, &t_ops);
                node(&mut theirs, r)["request"]["url"]["raw"] = json!("https://theirs.test");
                let mut mine = base.clone();
                edit(&mut mine, &base, Side::Mine, &m_ops);
                node(&mut mine, r)["request"]["url"]["raw"] = json!("https://mine.test");
                let merged = merge(&base, &theirs, &mine);
                let path = format!("item[id={r}].request.url.raw");
                prop_assert_eq!(paths(&merged), vec![path.as_str()]);
            }

            /// Deleting a request the other side edited is one conflict,
            /// named by the request's id.
            #[test]
            fn delete_and_edit_is_named(shape in shape(), t_ops in ops(), m_ops in ops(), pick in any::<prop::sample::Index>()) {
                // Two requests first, so that there are some of each kind.
                let shape: Vec<Shape> = [Shape::Request, Shape::Request].into_iter().chain(shape).collect();
                let base = collection(&shape);
                let requests: Vec<String> = placed(&base).into_iter().map(|(id, _)| id)
                    .filter(|id| id.starts_with('r') && !id.ends_with("ex") && deletable_by(id[1..].parse().unwrap()) == Some(Side::Theirs))
                    .collect();
                let r = pick.get(&requests);
                let mut theirs = base.clone();
                edit(&mut theirs, &base, Side::Theirs, &t_ops);
                if placed(&theirs).iter().any(|(id, _)| id == r) {
                    take(&mut theirs, r);
                }
                let mut mine = base.clone();
                edit(&mut mine, &base, Side::Mine, &m_ops);
                node(&mut mine, r)["request"]["method"] = json!("DELETE");
                let merged = merge(&base, &theirs, &mine);
                let path = format!("item[id={r}]");
                prop_assert_eq!(paths(&merged), vec![path.as_str()]);
            }

            /// Whatever both sides do to valid collections, a clean merge
            /// is a valid collection holding every id once: those both
            /// sides have and those either side added.
            #[test]
            fn clean_merges_keep_every_id_once(shape in shape(), t_ops in ops(), m_ops in ops(), t_free in ops(), m_free in ops()) {
                let base = collection(&shape);
                let mut theirs = base.clone();
                edit(&mut theirs, &base, Side::Theirs, &t_ops);
                // The same edits as mine makes: both sides then overlap.
                edit(&mut theirs, &base, Side::Mine, &t_free);
                let mut mine = base.clone();
                edit(&mut mine, &base, Side::Mine, &m_ops);
                edit(&mut mine, &base, Side::Theirs, &m_free);
                let result = merge(&base, &theirs, &mine);
                let merged = match &result {
                    Merge::Clean(merged) => merged,
                    Merge::Conflicted { conflicts, merged } => {
                        prop_assert!(!conflicts.is_empty());
                        merged
                    }
                };
                postman::check_collection(merged).unwrap();
                let ids = all_ids(merged);
                let mut unique = ids.clone();
                unique.dedup();
                prop_assert_eq!(&unique, &ids, "an id twice");
                if let Merge::Clean(_) = result {
                    let (b_ids, t_ids, m_ids) = (all_ids(&base), all_ids(&theirs), all_ids(&mine));
                    for id in t_ids.iter().filter(|id| m_ids.contains(id) || !b_ids.contains(id)) {
                        prop_assert!(ids.contains(id), "{} lost", id);
                    }
                    for id in m_ids.iter().filter(|id| !b_ids.contains(id)) {
                        prop_assert!(ids.contains(id), "{} lost", id);
                    }
                }
            }
        }
    }
}
