/* tfotel report: selects a step and shows its exchange. Data comes from the JSON block
   in the page; every value is put in the page as text (textContent), never as markup. */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("tfotel-data").textContent);
  var steps = data.steps || [];
  var order = steps.map(function (s) { return s.step; });
  var byStep = {};
  steps.forEach(function (s) { byStep[s.step] = s; });
  var detail = document.getElementById("detail");
  var blame = {};
  ((data.blame && data.blame.steps) || []).forEach(function (cell) { blame[cell.step] = cell; });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child !== null && child !== undefined) parent.appendChild(child);
    }
    return parent;
  }

  function bytes(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MiB";
    if (n >= 1024) return (n / 1024).toFixed(1) + " KiB";
    return n + " bytes";
  }

  function ms(x) { return x >= 1000 ? (x / 1000).toFixed(2) + " s" : x.toFixed(1) + " ms"; }

  function signed(x) { return (x >= 0 ? "+" : "\u2212") + Math.abs(x).toFixed(2); }

  /* Pretty JSON, two-space indent, with spans for highlighting. */
  function jsonView(value) {
    var pre = el("pre", "json");
    function text(s) { pre.appendChild(document.createTextNode(s)); }
    function tok(cls, s) { pre.appendChild(el("span", cls, s)); }
    function walk(v, ind) {
      if (v === null) return tok("j-lit", "null");
      if (Array.isArray(v)) {
        if (!v.length) return text("[]");
        text("[\n");
        v.forEach(function (x, i) {
          text(ind + "  ");
          walk(x, ind + "  ");
          text(i < v.length - 1 ? ",\n" : "\n");
        });
        return text(ind + "]");
      }
      if (typeof v === "object") {
        var keys = Object.keys(v);
        if (!keys.length) return text("{}");
        text("{\n");
        keys.forEach(function (k, i) {
          text(ind + "  ");
          tok("j-key", JSON.stringify(k));
          text(": ");
          walk(v[k], ind + "  ");
          text(i < keys.length - 1 ? ",\n" : "\n");
        });
        return text(ind + "}");
      }
      if (typeof v === "string") return tok("j-str", JSON.stringify(v));
      if (typeof v === "number") return tok("j-num", String(v));
      return tok("j-lit", String(v));
    }
    walk(value, "");
    return pre;
  }

  /* Content blocks (a Message's, or one message of a request) as readable text. */
  function blockView(block) {
    if (typeof block === "string") return el("div", "block text", block);
    if (!block || typeof block !== "object") return null;
    var kind = String(block.type || "block");
    var box = el("div", "block " + kind.replace(/[^a-z_]/g, ""));
    add(box, el("span", "kind", kind));
    if (kind === "text") {
      box.appendChild(document.createTextNode(String(block.text || "")));
    } else if (kind === "tool_use") {
      box.appendChild(document.createTextNode(String(block.name || "") + " " + JSON.stringify(block.input || {})));
    } else if (kind === "tool_result") {
      var content = block.content;
      if (Array.isArray(content)) {
        content = content.map(function (c) { return c && c.type === "text" ? c.text : JSON.stringify(c); }).join("\n");
      }
      box.appendChild(document.createTextNode((block.is_error ? "error: " : "") + String(content || "")));
    } else if (kind === "thinking") {
      box.appendChild(document.createTextNode(String(block.thinking || "")));
    } else {
      box.appendChild(document.createTextNode(JSON.stringify(block)));
    }
    return box;
  }

  function contentView(content) {
    var list = Array.isArray(content) ? content : [content];
    var box = el("div", "said");
    list.forEach(function (b) { add(box, blockView(b)); });
    return box.childNodes.length ? box : null;
  }

  function bodyView(title, body, isResponse) {
    var section = el("section", "body");
    var sub = "";
    if (body.kind === "sse") sub = "Message reassembled from " + body.events + " SSE events \u00b7 " + bytes(body.size);
    else if (body.kind === "json") sub = "JSON \u00b7 " + bytes(body.size);
    else if (body.kind === "text") sub = "text \u00b7 " + bytes(body.size);
    else if (body.kind === "empty") sub = "empty";
    else sub = "not available";
    add(section, add(el("h3", null, title), el("small", null, sub)));
    if (body.note) add(section, el("p", "note", body.note));
    var doc = body.doc;
    if (doc && typeof doc === "object") {
      if (isResponse && doc.content !== undefined) {
        add(section, contentView(doc.content));
      } else if (!isResponse && Array.isArray(doc.messages) && doc.messages.length) {
        var last = doc.messages[doc.messages.length - 1];
        var said = contentView(last && last.content);
        if (said) {
          add(section, el("div", "eyebrow", "last message (" + String((last && last.role) || "?") + ")"), said);
        }
      }
    }
    if (doc !== null && doc !== undefined) add(section, jsonView(doc));
    if (body.raw !== null && body.raw !== undefined) {
      if (body.kind === "sse") {
        var raw = add(el("details"), el("summary", null, "Raw SSE events (" + body.events + ")"), el("pre", "raw", body.raw));
        add(section, raw);
      } else {
        add(section, el("pre", "raw", body.raw));
      }
    }
    if (body.sha256) add(section, el("p", "blob", "blob sha256 " + body.sha256));
    return section;
  }

  function kv(dl, key, value) {
    if (value === null || value === undefined || value === "") return;
    add(dl, el("dt", null, key), el("dd", null, value));
  }

  function render(step) {
    var s = byStep[step];
    detail.textContent = "";
    if (!s) {
      add(detail, el("p", "empty", "This run has no model exchanges."));
      return;
    }
    var head = el("div", "detail-head");
    add(head, el("div", "eyebrow", "Step " + s.step + " \u00b7 exchange " + (order.indexOf(s.step) + 1) + " of " + steps.length));
    var title = s.tool_calls && s.tool_calls.length ? s.tool_calls.join(", ") : s.finish_reason || "exchange";
    add(head, el("h2", null, title));
    var pills = el("div", "pills");
    add(pills, el("span", "pill accent", s.model || "model?"));
    add(pills, el("span", s.stream ? "pill sse" : "pill", s.stream ? "SSE stream" : "JSON"));
    add(pills, el("span", s.status_code && s.status_code < 400 ? "pill ok" : "pill bad", "HTTP " + (s.status_code || "?")));
    if (s.finish_reason) add(pills, el("span", "pill", s.finish_reason));
    if (s.incomplete) add(pills, el("span", "pill warn", "stream incomplete"));
    if (s.error) add(pills, el("span", "pill bad", s.error));
    add(head, pills);
    add(detail, head);

    var dl = el("dl", "kv");
    kv(dl, "Tokens", (s.input_tokens === null ? "?" : s.input_tokens) + " in \u00b7 " +
      (s.output_tokens === null ? "?" : s.output_tokens) + " out");
    kv(dl, "Latency", ms(s.latency_ms));
    kv(dl, "Started", "+" + ms(s.offset_ms) + " into the run");
    kv(dl, "Tools called", (s.tool_calls || []).join(", "));
    kv(dl, "Span", s.span_id);
    add(detail, dl);

    var cell = blame[s.step];
    if (cell) {
      add(detail, el("p", "blame-box", "Blame " + signed(cell.score) + "  [" + signed(cell.ci_low) + ", " +
        signed(cell.ci_high) + "] 95% CI \u00b7 rank " + cell.rank + " of " + data.blame.steps.length +
        " \u00b7 " + cell.samples + " samples"));
    }
    add(detail, bodyView("Response", s.response, true));
    add(detail, bodyView("Request", s.request, false));
  }

  var current = -1;

  function select(step, focus) {
    if (!byStep.hasOwnProperty(step)) return;
    current = order.indexOf(step);
    document.querySelectorAll("[data-step]").forEach(function (node) {
      node.setAttribute("aria-selected", node.getAttribute("data-step") === String(step) ? "true" : "false");
    });
    render(step);
    detail.scrollTop = 0;
    if (focus) {
      var row = document.getElementById("step-row-" + step);
      if (row) row.focus();
    }
    try { history.replaceState(null, "", "#step-" + step); } catch (e) { /* file: URLs may refuse */ }
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-step]") : null;
    if (target) select(Number(target.getAttribute("data-step")), false);
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA") return;
    if (event.key === "ArrowDown" || event.key === "j") { select(order[Math.min(current + 1, order.length - 1)], true); event.preventDefault(); }
    if (event.key === "ArrowUp" || event.key === "k") { select(order[Math.max(current - 1, 0)], true); event.preventDefault(); }
  });

  var wanted = /^#step-(\d+)$/.exec(location.hash || "");
  if (wanted && byStep.hasOwnProperty(Number(wanted[1]))) select(Number(wanted[1]), false);
  else if (order.length) select(order[0], false);
  else render(null);
  document.documentElement.setAttribute("data-ready", "true");
})();
