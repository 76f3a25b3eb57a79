'use strict';
(function () {
	var $ = function (id) { return document.getElementById(id); };

	function el(tag, text, cls) {
		var e = document.createElement(tag);

		if (text !== undefined && text !== null)
			e.textContent = String(text);
		if (cls)
			e.className = cls;
		return e;
	}

	/* Fill table id: head, then rows (arrays of cells; a number is
	 * right-aligned); cls(row index) names a row's class. */
	function table(id, head, rows, cls) {
		var t = $(id), thead = el('thead'), tbody = el('tbody');
		var tr = el('tr');

		while (t.firstChild)
			t.removeChild(t.firstChild);
		head.forEach(function (h) { tr.appendChild(el('th', h)); });
		thead.appendChild(tr);
		t.appendChild(thead);
		rows.forEach(function (r, i) {
			var row = el('tr', null, cls ? cls(i) : '');

			r.forEach(function (c) {
				/* long text (hosts, rule paths) may wrap */
				row.appendChild(el('td', c,
				    typeof c === 'number' ? 'n' :
				    String(c).length > 24 ? 'w' : ''));
			});
			tbody.appendChild(row);
		});
		t.appendChild(tbody);
	}

	function get(url) {
		return fetch(url, { cache: 'no-store' }).then(function (r) {
			return r.json().then(function (j) {
				if (!r.ok)
					throw new Error(j.error || r.status);
				return j;
			});
		});
	}

	function age(s) {
		if (s < 0)
			return 'never';
		if (s < 120)
			return s + ' s';
		if (s < 7200)
			return Math.floor(s / 60) + ' min';
		if (s < 172800)
			return Math.floor(s / 3600) + ' h';
		return Math.floor(s / 86400) + ' d';
	}

	function when(t) {
		return new Date(t * 1000).toISOString().replace('T', ' ')
		    .replace(/\.\d+Z$/, 'Z');
	}

	function state(text, bad) {
		$('state').textContent = text;
		$('state').className = bad ? 'err' : '';
	}

	function renderStatus(st) {
		var acts = ['allow', 'deny', 'audit', 'none', 'total'];
		var a = st.actions;

		$('version').textContent = 'version ' + st.version;
		$('uptime').textContent = 'up ' + age(st.uptime);
		table('actions', ['action', 'since start', 'last minute',
		    'last hour'], acts.map(function (k) {
			return [k, a.since_start[k], a.last_minute[k],
			    a.last_hour[k]];
		}));
		table('categories', ['category', 'since start',
		    'last minute', 'last hour'],
		    st.categories.map(function (c) {
			return [c.name === '' ? '(no rule)' : c.name,
			    c.since_start.total, c.last_minute.total,
			    c.last_hour.total];
		}));
		table('top-denied', ['host', 'count'],
		    st.top_denied.map(function (t) {
			return [t.host, t.count];
		}));
		table('top-unknown', ['host', 'count'],
		    st.top_unknown.map(function (t) {
			return [t.host, t.count];
		}));
		table('lists', ['url', 'category', 'entries', 'checked',
		    'last result'], st.lists.map(function (l) {
			return [l.url, l.category, l.entries,
			    l.age < 0 ? 'never' : age(l.age) + ' ago',
			    l.last === null ? 'none since start' :
			    when(l.last_at) + ': ' + l.last];
		}));
		$('config').textContent = st.config.file + ', generation ' +
		    st.config.generation + ', loaded ' +
		    when(st.config.loaded) + '; ' + st.workers +
		    ' workers, ' + st.connections_open +
		    ' connections open';
		table('files', ['rule file', 'sha256'],
		    st.config.rule_files.map(function (f) {
			return [f.file, f.sha256];
		}));
	}

	function renderRecent(r) {
		var rows = r.recent;

		table('recent', ['time', 'client', 'method', 'host', 'action',
		    'category', 'rule', 'status', 'end'],
		    rows.map(function (e) {
			return [when(e.time), e.client, e.method,
			    e.port ? e.host + ':' + e.port : e.host,
			    e.action || '-', e.category ||
			    (e['default'] ? '(default)' : '-'),
			    e.rule || '-', e.status, e.end];
		}), function (i) { return rows[i].action || ''; });
	}

	function recentQuery() {
		var q = new URLSearchParams();

		['action', 'category', 'client', 'host'].forEach(function (k) {
			var v = $('f-' + k).value.trim();

			if (v !== '')
				q.set(k, v);
		});
		return '/api/recent?' + q.toString();
	}

	function refresh() {
		return Promise.all([get('/api/status').then(renderStatus),
		    get(recentQuery()).then(renderRecent)]).then(function () {
			state('updated ' + new Date().toLocaleTimeString(),
			    false);
		}, function (err) {
			state('error: ' + err.message, true);
		});
	}

	function explain(host) {
		return get('/api/explain?host=' + encodeURIComponent(host))
		    .then(function (e) {
			table('explain-out', ['target', 'action', 'category',
			    'rule'], [[e.target, e.action, e.category || '-',
			    e.rule || '-']], function () { return e.action; });
		}, function (err) {
			table('explain-out', ['host', 'error'],
			    [[host, err.message]]);
		});
	}

	$('explain-form').addEventListener('submit', function (ev) {
		ev.preventDefault();
		explain($('explain-host').value.trim());
	});
	$('filters').addEventListener('submit', function (ev) {
		ev.preventDefault();
	});
	$('filters').addEventListener('input', function () {
		get(recentQuery()).then(renderRecent, function () {});
	});
	var params = new URLSearchParams(location.search);
	['action', 'category', 'client', 'host'].forEach(function (k) {
		if (params.has(k))
			$('f-' + k).value = params.get(k);
	});
	if (params.has('explain')) {
		$('explain-host').value = params.get('explain');
		explain(params.get('explain'));
	}
	refresh();
	setInterval(refresh, 2000);
	document.documentElement.setAttribute('data-script', 'ran');
}());
