/* Linli voice: AudioWorklet that turns the microphone into 16 kHz mono PCM16 frames.
 * Posts an ArrayBuffer of Int16 samples every `frameMs` (default 40 ms). Downsampling from the
 * context's rate averages the input samples that fall into each output sample (a cheap
 * low-pass, good enough for speech recognition). */
'use strict';

class LinliPcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.target = opts.targetRate || 16000;
    this.step = sampleRate / this.target; // input samples per output sample
    this.frame = Math.round(this.target * (opts.frameMs || 40) / 1000);
    this.out = new Int16Array(this.frame);
    this.n = 0;
    this.acc = 0;
    this.count = 0;
    this.pos = 0;
    this.running = true;
    this.port.onmessage = (event) => {
      if (event.data === 'flush') { this.flush(); this.port.postMessage('flushed'); }
      if (event.data === 'stop') { this.flush(); this.running = false; }
    };
  }

  push(value) {
    const s = Math.max(-1, Math.min(1, value));
    this.out[this.n++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.n === this.frame) this.flush();
  }

  flush() {
    if (!this.n) return;
    const buffer = this.out.slice(0, this.n).buffer;
    this.port.postMessage(buffer, [buffer]);
    this.n = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!this.running) return false;
    if (!input || !input.length) return true;
    const ch = input[0];
    if (this.step === 1) {
      for (let i = 0; i < ch.length; i++) this.push(ch[i]);
      return true;
    }
    for (let i = 0; i < ch.length; i++) {
      this.acc += ch[i];
      this.count++;
      this.pos += 1;
      if (this.pos >= this.step) {
        this.pos -= this.step;
        this.push(this.acc / this.count);
        this.acc = 0;
        this.count = 0;
      }
    }
    return true;
  }
}

registerProcessor('linli-pcm-capture', LinliPcmCapture);
