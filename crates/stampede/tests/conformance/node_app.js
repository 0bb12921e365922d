// The conformance site on Node's own http server, with its default 5 s keepAliveTimeout.
// Prints the port it bound (port 0) as "listening PORT". Logs every request to
// CONFORMANCE_LOG as "METHOD PATH STATUS MILLISECONDS".
const http = require('http');
const fs = require('fs');

const log = process.env.CONFORMANCE_LOG || '/dev/null';
const PAGE = "<html><body><h1>Conformance</h1><a href='/form'>form</a></body></html>";
const FORM = "<html><body><form method='post'><input name='name'></form></body></html>";

const server = http.createServer((req, res) => {
  const started = process.hrtime.bigint();
  req.on('data', () => {});
  req.on('end', () => {
    const path = req.url.split('?')[0];
    let status = 200;
    let body = '';
    const headers = { 'Content-Type': 'text/html' };
    if (path === '/') body = PAGE;
    else if (path === '/redirect') { status = 302; headers.Location = '/landing'; }
    else if (path === '/landing') body = '<html><body>landed</body></html>';
    else if (path === '/form') body = req.method === 'POST' ? 'posted' : FORM;
    else { status = 404; body = 'not found'; }
    headers['Content-Length'] = Buffer.byteLength(body);
    res.writeHead(status, headers);
    res.end(body);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    fs.appendFileSync(log, `${req.method} ${path} ${status} ${ms.toFixed(3)}\n`);
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
