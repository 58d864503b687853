// Reel's dashboard: analyses and jobs with live progress, a video page with a frame scrubber, results and plots.
'use strict';

const view = document.getElementById('view');
const colors = ['#1a73e8', '#e8710a', '#137333', '#a142f4', '#d01884', '#12b5cb'];
const modelNames = ['color_detection', 'faces_detection', 'objects_detection', 'emotions_detection'];
let timer = null;

const esc = text => String(text ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
// Reel's own API answers errors as {"error"}; the seed API (/analysis) as plain text, as the seed did.
const json = async (url, options) => {
  const response = await fetch(url, options);
  const text = await response.text();
  let body = {};
  try { body = JSON.parse(text); } catch { body = { error: text }; }
  if (response.status === 401) document.getElementById('sign-in').hidden = false;
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
};
const poll = (work, ms = 1000) => { clearInterval(timer); work(); timer = setInterval(work, ms); };

function route() {
  const [, page, id] = location.hash.split('/');
  if (page === 'video') return videoPage(id);
  if (page === 'job') return jobPage(id);
  return overview();
}

function overview() {
  view.innerHTML = `
    <section><h2>New analysis</h2>
      <form id="new-analysis">
        <label>Video file <input type="file" id="upload-file" accept="video/*,image/*"></label>
        <label>or URL <input type="url" id="video-url" placeholder="https://…/clip.mp4" size="36"></label>
        <span>${modelNames.map(m => `<label><input type="checkbox" name="model" value="${m}" ${m === 'color_detection' ? 'checked' : ''}> ${m}</label>`).join(' ')}</span>
        <label>Frame step <input type="number" id="frame-step" min="1" value="1" style="width: 5em"></label>
        <button type="submit" id="start">Start</button>
        <span id="start-error" class="error"></span>
      </form>
    </section>
    <section><h2>Analyses</h2><table id="analyses"><thead><tr><th>Video</th><th>Status</th><th>Progress</th><th>Models</th><th>Step</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Workers</h2><table id="workers"><thead><tr><th>Host</th><th>IP</th><th>Runs</th><th>Slots</th><th>Running</th><th>Done</th><th>Failed</th><th>Per second</th><th>ms each</th><th>Seen</th><th>State</th><th>Working on</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Jobs</h2><table id="jobs"><thead><tr><th>Job</th><th>Pipeline</th><th>State</th><th>Datums</th><th>Started</th></tr></thead><tbody></tbody></table></section>`;
  document.getElementById('new-analysis').addEventListener('submit', start);
  poll(async () => {
    const analyses = await json('/api/v1/analyses');
    document.querySelector('#analyses tbody').innerHTML = analyses.map(a => `
      <tr data-id="${a.video_id}"><td><a href="#/video/${a.video_id}">${esc(a.video_name)}</a></td>
        <td class="status status-${a.status}">${a.status}${a.error ? ': ' + esc(a.error) : ''}</td>
        <td><progress max="${Math.max(a.frames_planned, 1)}" value="${a.status === 'Completed' ? Math.max(a.frames_planned, 1) : a.frames_done}"></progress>
          ${a.frames_done}/${a.frames_planned}</td>
        <td>${a.models_to_run.map(esc).join(', ')}</td><td>${a.frame_step}</td></tr>`).join('');
    const workers = await json('/api/v1/workers');
    // A cluster node that has not reported a worker has no counts, only its membership state.
    const n = v => v ?? '-';
    document.querySelector('#workers tbody').innerHTML = workers.map(w => `<tr data-id="${esc(w.id)}"><td>${esc(w.host)}</td><td>${esc(w.address)}</td>
      <td>${w.kind ? 'datums' : '-'}</td><td>${n(w.slots)}</td><td>${n(w.running)}</td><td>${n(w.done)}</td><td>${n(w.failed)}</td>
      <td>${n(w.framesPerSecond)}</td><td>${n(w.millisecondsPerFrame)}</td><td>${new Date(w.seen).toLocaleTimeString()}</td>
      <td class="state state-${esc(w.status).replace(/ /g, '-')}">${esc(w.status)}</td>
      <td class="working">${(w.workingOn ?? []).map(esc).join('<br>') || '-'}</td></tr>`).join('');
    const jobs = await json('/api/v1/jobs');
    document.querySelector('#jobs tbody').innerHTML = jobs.map(j => {
      const done = j.counts.success + j.counts.skipped + j.counts.failed;
      return `<tr><td><a href="#/job/${j.id}">${j.id.slice(0, 12)}</a></td><td>${esc(j.pipeline)}</td>
        <td class="status-${j.state}">${j.state}${j.error ? ': ' + esc(j.error) : ''}</td>
        <td><progress max="${Math.max(j.counts.total, 1)}" value="${done}"></progress> ${done}/${j.counts.total}</td>
        <td>${j.started ? new Date(j.started).toLocaleString() : '-'}</td></tr>`;
    }).join('');
  });
}

async function start(event) {
  event.preventDefault();
  const error = document.getElementById('start-error');
  error.textContent = '';
  const models = [...document.querySelectorAll('input[name=model]:checked')].map(m => m.value);
  const step = document.getElementById('frame-step').value || '1';
  const file = document.getElementById('upload-file').files[0];
  try {
    if (file) {
      const query = new URLSearchParams({ videoName: file.name, models: models.join(','), frameStep: step });
      await json(`/api/v1/analyses?${query}`, { method: 'POST', body: file, headers: { 'Content-Type': 'application/octet-stream' } });
    } else {
      await json('/analysis/start', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ videoURL: document.getElementById('video-url').value, modelsToRun: models, frameStep: step }),
      });
    }
    document.getElementById('new-analysis').reset();
  } catch (e) {
    error.textContent = e.message;
  }
}

async function videoPage(id) {
  clearInterval(timer);
  view.innerHTML = `<section><h2 id="video-title">Video</h2><div id="video-status"></div></section>
    <section><h2>Frames</h2>
      <div><input type="range" id="scrubber" min="0" max="0" value="0" style="width: 640px"> frame <span id="frame-number">-</span>
        · <span id="result-count">0</span> results</div>
      <div class="frame"><img id="frame" alt="frame with its detections">
        <table id="results"><thead><tr><th>Model</th><th>Results</th><th>ms</th></tr></thead><tbody></tbody></table></div>
    </section>
    <section><h2>Detections per second</h2><canvas id="detections-plot" width="560" height="180"></canvas><div class="legend" id="detections-legend"></div></section>
    <section><h2>Inference time per frame (ms)</h2><canvas id="inference-plot" width="560" height="180"></canvas><div class="legend" id="inference-legend"></div></section>`;
  let frames = [];
  const scrubber = document.getElementById('scrubber');
  const show = async () => {
    if (!frames.length) return;
    const frame = frames[Number(scrubber.value)];
    document.getElementById('frame-number').textContent = frame;
    document.getElementById('frame').src = `/analysis/${id}/frame/${frame}`;
    const rows = await json(`/analysis/${id}/frame/${frame}/results`);
    document.querySelector('#results tbody').innerHTML = rows.map(r => `<tr><td>${esc(r.inference_model)}</td>
      <td>${r.inference_results.map(x => Array.isArray(x) ? `<span style="color:rgb(${x.map(Number).join(',')})">■</span> rgb(${x.map(Number).join(', ')})`
        : `${esc(x.label)} ${x.probability.toFixed(2)} [${x.coordinates.join(', ')}]`).join('<br>') || '-'}</td>
      <td>${(r.inference_time * 1000).toFixed(2)}</td></tr>`).join('');
  };
  scrubber.addEventListener('input', show);
  let loaded = false;
  poll(async () => {
    const status = await json(`/analysis/${id}`);
    document.getElementById('video-title').textContent = status.video_name;
    document.getElementById('video-status').innerHTML = `<span class="status-${status.status}">${status.status}</span>
      ${status.error ? esc(status.error) : ''} · ${status.frames_done}/${status.frames_planned} frames · models ${status.models_to_run.map(esc).join(', ')}`;
    // Results are stored as frames are analyzed: while it runs, the table, plots and scrubber grow each second.
    if (loaded || status.greatest_frame_analyzed < 1) return;
    loaded = status.status === 'Completed' || status.status === 'Failed';
    const rows = await json(`/analysis/${id}/results`).catch(() => []);
    const following = !frames.length || Number(scrubber.value) === frames.length - 1;
    frames = [...new Set(rows.map(r => r.frame_number))];
    document.getElementById('result-count').textContent = rows.length;
    scrubber.max = Math.max(frames.length - 1, 0);
    if (following) scrubber.value = scrubber.max;
    plot('detections', perSecond(rows), 'detections');
    plot('inference', rows.map(r => ({ model: r.inference_model, x: r.video_timestamp, y: r.inference_time * 1000 })), 'ms');
    show();
  });
}

function perSecond(rows) {
  const bins = new Map();
  for (const r of rows) {
    if (r.inference_model === 'Color Palette Detection') continue;
    const key = `${r.inference_model}|${Math.floor(r.video_timestamp)}`;
    bins.set(key, (bins.get(key) || 0) + r.inference_results.length);
  }
  return [...bins].map(([key, count]) => { const [model, second] = key.split('|'); return { model, x: Number(second), y: count }; });
}

function plot(name, points, unit) {
  const canvas = document.getElementById(`${name}-plot`);
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, canvas.width, canvas.height);
  const models = [...new Set(points.map(p => p.model))];
  const maxX = Math.max(1, ...points.map(p => p.x)), maxY = Math.max(1, ...points.map(p => p.y));
  const X = x => 30 + (x / maxX) * (canvas.width - 40), Y = y => canvas.height - 20 - (y / maxY) * (canvas.height - 30);
  g.strokeStyle = '#999'; g.beginPath(); g.moveTo(30, 10); g.lineTo(30, canvas.height - 20); g.lineTo(canvas.width - 10, canvas.height - 20); g.stroke();
  g.fillStyle = '#666'; g.fillText(`${maxY.toFixed(1)} ${unit}`, 2, 12); g.fillText(`${maxX.toFixed(0)} s`, canvas.width - 30, canvas.height - 6);
  models.forEach((model, i) => {
    g.strokeStyle = colors[i % colors.length]; g.beginPath();
    points.filter(p => p.model === model).sort((a, b) => a.x - b.x).forEach((p, j) => j ? g.lineTo(X(p.x), Y(p.y)) : g.moveTo(X(p.x), Y(p.y)));
    g.stroke();
  });
  document.getElementById(`${name}-legend`).innerHTML = models.map((m, i) => `<span style="color:${colors[i % colors.length]}">━ ${esc(m)}</span>`).join('');
}

async function jobPage(id) {
  view.innerHTML = `<section><h2 id="job-title">Job</h2><div id="job-status"></div></section>
    <section><h2>Datums</h2><table id="datums"><thead><tr><th>Datum</th><th>State</th><th>Tries</th><th>Seconds</th><th>Files</th><th>Error</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Logs</h2><pre id="logs"></pre></section>`;
  poll(async () => {
    const job = await json(`/api/v1/jobs/${id}`);
    document.getElementById('job-title').textContent = `Job ${job.id.slice(0, 12)} of ${job.pipeline}`;
    document.getElementById('job-status').innerHTML = `<span class="status-${job.state}">${job.state}</span> ${esc(job.error || '')}`;
    const datums = await json(`/api/v1/jobs/${id}/datums`);
    document.querySelector('#datums tbody').innerHTML = datums.map(d => `<tr><td>${d.id.slice(0, 12)}</td><td class="status-${d.state}">${d.state}</td>
      <td>${d.tries}</td><td>${d.seconds?.toFixed(2) ?? '-'}</td><td>${d.files.map(f => esc(`${f.input}:${f.path}`)).join('<br>')}</td><td>${esc(d.error || '')}</td></tr>`).join('');
    document.getElementById('logs').textContent = await (await fetch(`/api/v1/jobs/${id}/logs`)).text();
  }, 2000);
}

// Sign-in with the server's key (its data directory's server-key file): kept in an HttpOnly, SameSite=Strict cookie.
async function session() {
  const state = await json('/api/v1/session').catch(() => ({}));
  document.getElementById('sign-in').hidden = !state.keyRequired || state.signedIn;
  document.getElementById('signed-in').hidden = !state.signedIn;
}
document.getElementById('sign-in').addEventListener('submit', async event => {
  event.preventDefault();
  const error = document.getElementById('sign-in-error');
  try {
    await json('/api/v1/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ key: document.getElementById('key').value }) });
    document.getElementById('key').value = '';
    error.textContent = '';
    await session();
    route();
  } catch (e) { error.textContent = e.message; }
});
document.getElementById('sign-out').addEventListener('click', async () => {
  await fetch('/api/v1/session', { method: 'DELETE' });
  await session();
});

window.addEventListener('hashchange', route);
session();
route();
