// Writes `count` log lines with Winston's File transport and its own size rotation, as the
// stack's Node services do: JSON lines with level, message, timestamp, trace_id, span_id and
// request_id.
// Usage: node winston_writer.js <dir> <count> <maxsize bytes> <tailable: true|false> [first] [levels]
// Lines are numbered from `first` (default 0); line i has level levels[i % levels.length], from
// the comma-separated `levels` (default debug,info,warn,error; any of Winston's npm levels).
//
// Winston 3.19's File transport loses lines on a loaded machine unless it is given two waits:
// - Lines logged while it looks for its first file (a stat per existing full file, then the
//   open) are piped into that file's stream, which it destroys at once if they already exceed
//   `maxsize` ("rotatedWhileOpening"), and the same happens again with the next file: whole
//   bursts vanished, several empty files were left. So nothing is logged before its first
//   'open' event.
// - `logger.end()` while lines still wait for a rotation to finish fails them with "write after
//   end". So the logger is ended only once the transport has taken every line ('logged').
// Even so, lines piled up behind a slow rotation were still lost now and then (95 of 300 in 2 of
// 10 runs with two busy loops on 2 cores), so the tests compare the collector's output with the
// lines on disk: a line missing there is Winston's, not the collector's.
'use strict';
const winston = require('winston');

const [dir, count, maxsize, tailable, first, levelList] = process.argv.slice(2);
const levels = (levelList || 'debug,info,warn,error').split(',');
const file = new winston.transports.File({
  filename: `${dir}/combined.log`,
  maxsize: Number(maxsize),
  maxFiles: 1000,
  tailable: tailable === 'true',
});
const logger = winston.createLogger({
  level: 'silly',
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  transports: [file],
});

const start = Number(first || 0);
const total = start + Number(count);
let i = start;
let logged = 0;
file.on('logged', () => {
  logged += 1;
  if (logged === Number(count)) {
    // Node exits once the file stream has flushed and closed.
    logger.end();
  }
});

function next() {
  // Small bursts with pauses, so rotation happens while the collector tails.
  for (let k = 0; k < 20 && i < total; k++, i++) {
    logger.log({
      level: levels[i % levels.length],
      message: `line ${i}`,
      request_id: `req-${i}`,
      trace_id: (i + 1).toString(16).padStart(32, '0'),
      span_id: (i + 1).toString(16).padStart(16, '0'),
    });
  }
  if (i < total) {
    setTimeout(next, 10);
  }
}
if (Number(count) > 0) {
  file.once('open', next);
} else {
  logger.end();
}
