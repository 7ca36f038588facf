// The live bid ticker of an auction's page: an EventSource on the portal's own
// /auctions/{id}/stream (relayed from the auction service). The browser resumes a dropped
// stream with Last-Event-ID (the last bid's sequence), so a reconnect misses no bid; the
// page's own ?after= covers the moment between rendering the page and opening the stream.
(function () {
  "use strict";
  var root = document.getElementById("auction");
  if (!root || !window.EventSource) { return; }
  var id = root.dataset.id;
  var last = parseInt(root.dataset.lastSequence || "0", 10) || 0;
  var $ = function (x) { return document.getElementById(x); };

  function yuan(fen) { // integer fen to "1,500,000.00 元" without floating point
    fen = Number(fen);
    var sign = fen < 0 ? "-" : "", f = Math.abs(fen);
    var whole = String(Math.floor(f / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var cents = String(f % 100).padStart(2, "0");
    return sign + whole + "." + cents + " 元";
  }
  var clock = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", hourCycle: "h23", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"
  });
  function beijing(iso) { // "2026-03-05 14:30:05", Beijing time
    var p = {};
    clock.formatToParts(new Date(iso)).forEach(function (x) { p[x.type] = x.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second;
  }
  function endsAt(iso) {
    var el = $("ends-at");
    if (!iso || el.dataset.endsAt === iso) { return; }
    var moved = el.dataset.endsAt && new Date(iso) > new Date(el.dataset.endsAt);
    el.dataset.endsAt = iso;
    el.textContent = beijing(iso);
    if (moved) { $("extended").hidden = false; }
  }
  function high(fen, number) {
    if (fen) { $("high-bid").textContent = yuan(fen); }
    if (number) { $("high-bidder").textContent = number; }
  }
  function addBid(b) {
    if (b.sequence <= last) { return; }
    last = b.sequence;
    var row = document.createElement("tr");
    row.dataset.sequence = b.sequence;
    row.className = "new";
    [b.bidder_number, yuan(b.amount_fen), beijing(b.at), b.automatic ? "代理出价" : ""]
      .forEach(function (text, i) {
        var td = document.createElement("td");
        td.textContent = text;
        if (i === 1) { td.className = "money"; }
        row.appendChild(td);
      });
    $("bids").insertBefore(row, $("bids").firstChild);
    $("no-bids").hidden = true;
    $("bid-count").textContent = Math.max(parseInt($("bid-count").textContent, 10) || 0, b.sequence);
    high(b.high_bid_fen || b.amount_fen, b.bidder_number);
    endsAt(b.ends_at);
  }
  function closed(result) {
    $("status").textContent = result && result.outcome === "sold" ? "已成交" : "已结束";
    $("live-state").textContent = "";
    if (result) {
      $("result").hidden = false;
      $("result-text").textContent = result.outcome === "sold"
        ? "成交价 " + yuan(result.price_fen) + (result.winner_number ? "，买受人竞买号 " + result.winner_number : "")
        : "未成交";
    }
  }
  function data(e) { try { return JSON.parse(e.data); } catch (err) { return {}; } }

  var source = new EventSource("/auctions/" + id + "/stream?after=" + last);
  source.addEventListener("state", function (e) {
    var s = data(e);
    high(s.high_bid_fen, s.high_bidder_number);
    endsAt(s.ends_at);
    if (s.bid_count !== undefined) { $("bid-count").textContent = s.bid_count; }
    if (s.result) { closed(s.result); source.close(); }
  });
  source.addEventListener("bid", function (e) { addBid(data(e)); });
  source.addEventListener("extended", function (e) { endsAt(data(e).ends_at); });
  source.addEventListener("closed", function (e) {
    var d = data(e);
    closed(d.result || d);
    source.close();
  });
  source.onopen = function () { $("live-state").textContent = "实时更新中"; };
  source.onerror = function () {
    if (source.readyState !== EventSource.CLOSED) { $("live-state").textContent = "正在重新连接…"; }
  };
})();
