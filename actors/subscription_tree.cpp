#include "actors/subscription_tree.hpp"

#include <algorithm>
#include <map>

namespace colony::actors {

struct subscription_tree::group {
  std::string key; // group + '\x1f' + filter
  std::vector<sub_entry> members;
  mutable std::size_t next = 0;
};

namespace {

/// Lets the children map be searched with a string_view (no allocation per level).
struct level_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

} // namespace

struct subscription_tree::node {
  std::unordered_map<std::string, std::unique_ptr<node>, level_hash, std::equal_to<>> children;
  std::unique_ptr<node> plus;
  std::unique_ptr<node> hash;
  std::vector<sub_entry> subs;
  std::map<std::string, group, std::less<>> groups;

  bool empty() const noexcept {
    return children.empty() && !plus && !hash && subs.empty() && groups.empty();
  }
};

namespace {

/// Calls f(level) for each '/'-separated level of `s`.
template <class F>
void for_each_level(std::string_view s, F&& f) {
  std::size_t start = 0;
  while (true) {
    auto pos = s.find('/', start);
    if (pos == std::string_view::npos) {
      f(s.substr(start));
      return;
    }
    f(s.substr(start, pos - start));
    start = pos + 1;
  }
}

} // namespace

subscription_tree::subscription_tree() : root_(std::make_unique<node>()) {}
subscription_tree::~subscription_tree() = default;
subscription_tree::subscription_tree(subscription_tree&&) noexcept = default;
subscription_tree& subscription_tree::operator=(subscription_tree&&) noexcept = default;

bool subscription_tree::subscribe(std::string_view filter, std::string_view group_name,
                                  const sub_entry& e) {
  node* n = root_.get();
  for_each_level(filter, [&](std::string_view level) {
    std::unique_ptr<node>* slot;
    if (level == "+") {
      slot = &n->plus;
    } else if (level == "#") {
      slot = &n->hash;
    } else {
      auto it = n->children.find(level);
      if (it == n->children.end())
        it = n->children.emplace(std::string{level}, nullptr).first;
      slot = &it->second;
    }
    if (!*slot)
      *slot = std::make_unique<node>();
    n = slot->get();
  });
  std::vector<sub_entry>* list;
  if (group_name.empty()) {
    list = &n->subs;
  } else {
    auto it = n->groups.find(group_name);
    if (it == n->groups.end()) {
      group g;
      g.key = std::string{group_name} + '\x1f' + std::string{filter};
      it = n->groups.emplace(std::string{group_name}, std::move(g)).first;
    }
    list = &it->second.members;
  }
  for (auto& existing : *list) {
    if (existing.subscriber == e.subscriber) {
      existing = e;
      return true;
    }
  }
  list->push_back(e);
  ++count_;
  index_[e.subscriber].emplace_back(std::string{filter}, std::string{group_name});
  return false;
}

subscription_tree::node* subscription_tree::find_node(std::string_view filter) const {
  node* n = root_.get();
  bool ok = true;
  for_each_level(filter, [&](std::string_view level) {
    if (!ok)
      return;
    if (level == "+") {
      n = n->plus.get();
    } else if (level == "#") {
      n = n->hash.get();
    } else {
      auto it = n->children.find(level);
      n = it == n->children.end() ? nullptr : it->second.get();
    }
    ok = n != nullptr;
  });
  return ok ? n : nullptr;
}

void subscription_tree::prune(std::string_view filter) {
  // Walk down remembering the path, then remove empty nodes bottom-up.
  std::vector<std::pair<node*, std::string_view>> path;
  node* n = root_.get();
  bool ok = true;
  for_each_level(filter, [&](std::string_view level) {
    if (!ok)
      return;
    path.emplace_back(n, level);
    if (level == "+")
      n = n->plus.get();
    else if (level == "#")
      n = n->hash.get();
    else {
      auto it = n->children.find(level);
      n = it == n->children.end() ? nullptr : it->second.get();
    }
    ok = n != nullptr;
  });
  if (!ok)
    return;
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    auto [parent, level] = *it;
    node* child = level == "+"   ? parent->plus.get()
                  : level == "#" ? parent->hash.get()
                                 : parent->children.find(level)->second.get();
    if (!child->empty())
      return;
    if (level == "+")
      parent->plus.reset();
    else if (level == "#")
      parent->hash.reset();
    else
      parent->children.erase(parent->children.find(level));
  }
}

bool subscription_tree::unsubscribe(std::string_view filter, std::string_view group_name,
                                    std::uint64_t subscriber) {
  node* n = find_node(filter);
  if (!n)
    return false;
  bool removed = false;
  auto drop = [&](std::vector<sub_entry>& list) {
    auto it = std::find_if(list.begin(), list.end(),
                           [&](const sub_entry& e) { return e.subscriber == subscriber; });
    if (it != list.end()) {
      list.erase(it);
      removed = true;
    }
  };
  if (group_name.empty()) {
    drop(n->subs);
  } else if (auto g = n->groups.find(group_name); g != n->groups.end()) {
    drop(g->second.members);
    if (g->second.members.empty())
      n->groups.erase(g);
  }
  if (!removed)
    return false;
  --count_;
  if (auto idx = index_.find(subscriber); idx != index_.end()) {
    auto& v = idx->second;
    auto it = std::find_if(v.begin(), v.end(), [&](const auto& p) {
      return p.first == filter && p.second == group_name;
    });
    if (it != v.end())
      v.erase(it);
    if (v.empty())
      index_.erase(idx);
  }
  prune(filter);
  return true;
}

std::size_t subscription_tree::remove_subscriber(std::uint64_t subscriber) {
  auto idx = index_.find(subscriber);
  offline_.erase(subscriber);
  if (idx == index_.end())
    return 0;
  auto entries = std::move(idx->second);
  index_.erase(idx);
  std::size_t n = 0;
  for (auto& [filter, group_name] : entries) {
    if (unsubscribe(filter, group_name, subscriber))
      ++n;
  }
  return n;
}

void subscription_tree::set_online(std::uint64_t subscriber, bool online) {
  if (online)
    offline_.erase(subscriber);
  else
    offline_.insert(subscriber);
}

void subscription_tree::collect(const node& n, std::vector<sub_match>& normal,
                                std::vector<const group*>& groups) {
  for (const auto& e : n.subs) {
    sub_match m;
    m.subscriber = e.subscriber;
    m.max_qos = static_cast<std::uint8_t>(e.options.max_qos | (e.options.no_local ? 0x80 : 0));
    m.retain_as_published = e.options.retain_as_published;
    if (e.subscription_id != 0)
      m.subscription_ids.push_back(e.subscription_id);
    normal.push_back(std::move(m));
  }
  for (const auto& [name, g] : n.groups)
    groups.push_back(&g);
}

sub_match subscription_tree::pick(const group& g, std::uint64_t exclude) {
  const auto size = g.members.size();
  const sub_entry* chosen = nullptr;
  // Prefer an online member that is not excluded; fall back to any non-excluded one.
  for (int pass = 0; pass < 2 && !chosen; ++pass) {
    for (std::size_t i = 0; i < size; ++i) {
      const auto& e = g.members[(g.next + i) % size];
      if (e.subscriber == exclude && size > 1)
        continue;
      if (pass == 0 && offline_.count(e.subscriber) > 0)
        continue;
      chosen = &e;
      g.next = (g.next + i + 1) % size;
      break;
    }
  }
  if (!chosen)
    chosen = &g.members[g.next++ % size];
  sub_match m;
  m.subscriber = chosen->subscriber;
  m.max_qos = chosen->options.max_qos;
  m.retain_as_published = chosen->options.retain_as_published;
  if (chosen->subscription_id != 0)
    m.subscription_ids.push_back(chosen->subscription_id);
  m.shared_key = g.key;
  return m;
}

void subscription_tree::match(std::string_view topic, std::uint64_t origin,
                              std::vector<sub_match>& out, std::uint64_t exclude) {
  // Scratch vectors are members so a publish allocates nothing here once warmed up.
  auto& normal = scratch_normal_;
  auto& groups = scratch_groups_;
  auto& levels = scratch_levels_;
  auto& current = scratch_current_;
  auto& next = scratch_next_;
  normal.clear();
  groups.clear();
  levels.clear();
  current.clear();
  // Levels of the topic, then a breadth-first walk over the nodes matching each prefix.
  for_each_level(topic, [&](std::string_view l) { levels.push_back(l); });
  const bool dollar = !topic.empty() && topic.front() == '$';
  current.push_back(root_.get());
  for (std::size_t i = 0; i < levels.size(); ++i) {
    next.clear();
    for (const node* n : current) {
      // MQTT-4.7.2-1: wildcards at the first level do not match '$' topics.
      bool wild_ok = !(i == 0 && dollar);
      if (wild_ok && n->hash)
        collect(*n->hash, normal, groups);
      if (auto it = n->children.find(levels[i]); it != n->children.end())
        next.push_back(it->second.get());
      if (wild_ok && n->plus)
        next.push_back(n->plus.get());
    }
    current.swap(next);
    if (current.empty())
      break;
  }
  for (const node* n : current) {
    collect(*n, normal, groups);
    // "a/#" also matches "a" (the parent level).
    if (n->hash)
      collect(*n->hash, normal, groups);
  }
  // Merge overlapping subscriptions per subscriber; No Local subscriptions of the origin are
  // skipped (collect() marks No Local in bit 7 of max_qos).
  std::sort(normal.begin(), normal.end(),
            [](const sub_match& a, const sub_match& b) { return a.subscriber < b.subscriber; });
  for (std::size_t i = 0; i < normal.size();) {
    std::size_t j = i;
    sub_match merged;
    bool any = false;
    for (; j < normal.size() && normal[j].subscriber == normal[i].subscriber; ++j) {
      auto& m = normal[j];
      if ((m.max_qos & 0x80) != 0 && m.subscriber == origin)
        continue;
      if (!any) {
        merged = std::move(m);
        merged.max_qos &= 0x7f;
        any = true;
        continue;
      }
      merged.max_qos = std::max<std::uint8_t>(merged.max_qos, m.max_qos & 0x7f);
      merged.retain_as_published = merged.retain_as_published || m.retain_as_published;
      merged.subscription_ids.insert(merged.subscription_ids.end(), m.subscription_ids.begin(),
                                     m.subscription_ids.end());
    }
    if (any)
      out.push_back(std::move(merged));
    i = j;
  }
  for (const group* g : groups) {
    if (!g->members.empty())
      out.push_back(pick(*g, exclude));
  }
}

bool subscription_tree::pick_shared(std::string_view group_name, std::string_view filter,
                                    std::uint64_t exclude, sub_match& out) {
  node* n = find_node(filter);
  if (!n)
    return false;
  auto it = n->groups.find(group_name);
  if (it == n->groups.end() || it->second.members.empty())
    return false;
  if (it->second.members.size() == 1 && it->second.members[0].subscriber == exclude)
    return false;
  out = pick(it->second, exclude);
  return true;
}

} // namespace colony::actors
