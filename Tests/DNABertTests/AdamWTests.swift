#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import DNABert

/// AdamW, the LR schedule and gradient clipping against PyTorch (torch.optim.AdamW with HF's parameter groups,
/// clip_grad_norm_, HF's linear warm-up schedule): Fixtures/optimizer/adamw.json from
/// tools/reference/make_optimizer_fixture.py.
@Suite struct AdamWTests {
    static let fixturePath = FileIO.directoryOf("\(#filePath)") + "/Fixtures/optimizer/adamw.json"

    static func floats(_ v: JSONValue?) -> [Float] { (v?.arrayValue ?? []).map { Float($0.doubleValue ?? .nan) } }

    /// Copies named tensors of a JSON object into a buffer laid out by `layout`; returns the names seen.
    static func fill(_ buf: UnsafeMutableBufferPointer<Float>, _ layout: ParameterLayout, _ obj: JSONValue?) -> Set<String> {
        var seen = Set<String>()
        for (name, value) in obj?.objectValue ?? [] {
            guard let view = layout[name] else { continue }
            let vals = floats(value)
            #expect(vals.count == view.count, "\(name)")
            for i in 0..<min(vals.count, view.count) { buf[view.offset + i] = vals[i] }
            seen.insert(name)
        }
        return seen
    }

    static func close(_ a: Float, _ b: Float, rel: Float = 1e-6) -> Bool {
        abs(a - b) <= rel * max(abs(b), 1e-2)
    }

    @Test func matchesPyTorch() throws {
        let fixture = try JSON.parse(bytes: FileIO.read(Self.fixturePath))
        var cfg = ModelConfig()
        let m = fixture["model"]
        cfg.vocabSize = Int(m?["vocab_size"]?.intValue ?? 0)
        cfg.hiddenSize = Int(m?["hidden_size"]?.intValue ?? 0)
        cfg.intermediateSize = Int(m?["intermediate_size"]?.intValue ?? 0)
        cfg.numLayers = Int(m?["num_hidden_layers"]?.intValue ?? 0)
        cfg.numHeads = Int(m?["num_attention_heads"]?.intValue ?? 0)
        cfg.typeVocabSize = Int(m?["type_vocab_size"]?.intValue ?? 0)
        cfg.numLabels = Int(m?["num_labels"]?.intValue ?? 0)
        let model = try Model(config: cfg, mlmHead: true, pooler: true, classifier: true)
        let layout = model.layout
        let runs = fixture["runs"]?.arrayValue ?? []
        #expect(runs.count == 2)
        for run in runs {
            let c = run["config"]
            let adamCfg = AdamWConfig(beta1: c?["beta1"]?.doubleValue ?? 0, beta2: c?["beta2"]?.doubleValue ?? 0,
                                      eps: c?["eps"]?.doubleValue ?? 0, weightDecay: c?["weight_decay"]?.doubleValue ?? 0)
            let opt = try AdamW(layout: layout, config: adamCfg)
            let schedule = try LRSchedule(peak: c?["lr"]?.doubleValue ?? 0, warmupSteps: Int(c?["warmup"]?.intValue ?? -1),
                                          totalSteps: Int(c?["total"]?.intValue ?? 0))
            let maxNorm = c?["max_norm"]?.doubleValue ?? 0
            // The decay groups: HF's rule (by module type, in Python) against ours (by name).
            for (name, d) in run["decay"]?.objectValue ?? [] {
                #expect(AdamW.decays(name) == d.boolValue, "\(name)")
            }
            let names = Self.fill(model.parameters, layout, run["initial"])
            #expect(names == Set(layout.views.map(\.name)), "fixture and layout name the same tensors")
            var grad = [Float](repeating: 0, count: layout.total)
            var worst: Float = 0
            for (k, step) in (run["steps"]?.arrayValue ?? []).enumerated() {
                try grad.withUnsafeMutableBufferPointer { g in
                    _ = Self.fill(g, layout, step["grads"])
                    let norm = try GradClip.clip(g, maxNorm: maxNorm, threads: 2)
                    let refNorm = step["norm"]?.doubleValue ?? .nan
                    #expect(abs(norm - refNorm) <= 1e-6 * refNorm, "step \(k): norm \(norm) vs torch \(refNorm)")
                    let lr = schedule.lr(at: k)
                    let refLR = step["lr"]?.doubleValue ?? .nan
                    #expect(abs(lr - refLR) <= 1e-12, "step \(k): lr \(lr) vs torch \(refLR)")
                    try opt.update(parameters: model.parameters, gradients: UnsafeBufferPointer(g), lr: lr, threads: 2)
                }
                for (name, value) in step["params"]?.objectValue ?? [] {
                    guard let view = layout[name] else { Issue.record("unknown tensor \(name)"); continue }
                    let ref = Self.floats(value)
                    for i in 0..<view.count {
                        let a = model.parameters[view.offset + i]
                        worst = max(worst, abs(a - ref[i]) / max(abs(ref[i]), 1e-2))
                        if !Self.close(a, ref[i]) {
                            Issue.record("step \(k) \(name)[\(i)]: \(a) vs torch \(ref[i])")
                            break
                        }
                    }
                }
            }
            #expect(opt.step == run["steps"]?.arrayValue?.count)
            for (name, st) in run["final_state"]?.objectValue ?? [] {
                guard let view = layout[name] else { continue }
                let em = Self.floats(st["exp_avg"]), ev = Self.floats(st["exp_avg_sq"])
                for i in 0..<view.count {
                    #expect(Self.close(opt.m[view.offset + i], em[i], rel: 1e-5), "m \(name)[\(i)]")
                    #expect(Self.close(opt.v[view.offset + i], ev[i], rel: 1e-5), "v \(name)[\(i)]")
                }
            }
            #expect(worst < 1e-6)
            print("AdamW vs torch: worst relative difference \(worst) over \(run["steps"]?.arrayValue?.count ?? 0) steps")
        }
    }

    @Test func scheduleFollowsHuggingFaceFormula() throws {
        // get_linear_schedule_with_warmup(opt, 10, 100): lambda(s) = s/10 for s < 10, else (100 - s)/90.
        let s = try LRSchedule(peak: 1e-3, warmupSteps: 10, totalSteps: 100)
        #expect(s.lr(at: 0) == 0)
        #expect(abs(s.lr(at: 5) - 5e-4) < 1e-15)
        #expect(abs(s.lr(at: 10) - 1e-3) < 1e-15)
        #expect(abs(s.lr(at: 55) - 1e-3 * 45 / 90) < 1e-15)
        #expect(s.lr(at: 100) == 0 && s.lr(at: 150) == 0)
        let noWarmup = try LRSchedule(peak: 2, warmupSteps: 0, totalSteps: 4)
        #expect(noWarmup.lr(at: 0) == 2 && noWarmup.lr(at: 1) == 1.5)
        #expect(try LRSchedule(json: JSON.parse(JSON.serialize(s.json))) == s)
        #expect(throws: DNABertError.self) { try LRSchedule(peak: -1, warmupSteps: 0, totalSteps: 1) }
        #expect(throws: DNABertError.self) { try LRSchedule(peak: 1, warmupSteps: 0, totalSteps: 0) }
    }

    @Test func clipNormAgainstNaiveSumAndRejectsBadInput() throws {
        var r = TestRandom(11)
        var g = r.floats(200_003, 3)
        var naive = 0.0
        for x in g { naive += Double(x) * Double(x) }
        naive = naive.squareRoot()
        let n1 = g.withUnsafeBufferPointer { GradClip.globalNorm($0, threads: 1) }
        let n2 = g.withUnsafeBufferPointer { GradClip.globalNorm($0, threads: 2) }
        #expect(abs(n1 - naive) <= 1e-12 * naive)
        #expect(n1 == n2)
        let before = g
        let pre = try g.withUnsafeMutableBufferPointer { try GradClip.clip($0, maxNorm: 1) }
        #expect(pre == n1)
        let after = g.withUnsafeBufferPointer { GradClip.globalNorm($0) }
        #expect(abs(after - 1) < 1e-5)
        #expect(abs(g[7] - before[7] * Float(1 / (naive + 1e-6))) <= 1e-6 * abs(before[7]))
        // Below the threshold nothing changes.
        var small: [Float] = [0.1, -0.2]
        _ = try small.withUnsafeMutableBufferPointer { try GradClip.clip($0, maxNorm: 1) }
        #expect(small == [0.1, -0.2])
        #expect(throws: DNABertError.self) { try small.withUnsafeMutableBufferPointer { try GradClip.clip($0, maxNorm: 0) } }
        // A non-finite norm is reported and the gradients are left alone.
        var bad: [Float] = [.infinity, 1]
        let nb = try bad.withUnsafeMutableBufferPointer { try GradClip.clip($0, maxNorm: 1) }
        #expect(!nb.isFinite && bad[1] == 1)
    }

    @Test func rejectsMismatchedBuffersAndBadConfig() throws {
        var cfg = ModelConfig()
        cfg.vocabSize = 8; cfg.hiddenSize = 4; cfg.numHeads = 1; cfg.numLayers = 1; cfg.intermediateSize = 8
        let layout = ParameterLayout(config: cfg)
        let opt = try AdamW(layout: layout)
        var p = [Float](repeating: 0, count: layout.total - 1), g = [Float](repeating: 0, count: layout.total)
        #expect(throws: DNABertError.self) {
            try p.withUnsafeMutableBufferPointer { pp in try g.withUnsafeBufferPointer { try opt.update(parameters: pp, gradients: $0, lr: 1) } }
        }
        p.append(0)
        #expect(throws: DNABertError.self) {
            try p.withUnsafeMutableBufferPointer { pp in try g.withUnsafeBufferPointer { try opt.update(parameters: pp, gradients: $0, lr: .nan) } }
        }
        #expect(throws: DNABertError.self) { try AdamW(layout: layout, config: AdamWConfig(beta1: 1)) }
        #expect(throws: DNABertError.self) { try AdamW(layout: layout, config: AdamWConfig(eps: 0)) }
        #expect(try AdamWConfig(json: JSON.parse(JSON.serialize(AdamWConfig.fineTuning.json))) == .fineTuning)
        _ = g.withUnsafeMutableBufferPointer { $0[0] = 1 }
    }

    @Test func vectorSquareRootIsWithinOneUlp() {
        var r = TestRandom(31)
        var worst: Float = 0
        for k in 0..<20_000 {
            var x = SIMD8<Float>()
            for j in 0..<8 {
                // Magnitudes from 1e-30 to 1e30, and a few exact squares.
                let e = Float(r.int(61) - 30)
                x[j] = k % 97 == 0 ? Float(j * j) : abs(r.float(1)) * Float(Glibc.pow(10, Double(e)))
            }
            let y = AdamW.sqrt8(x)
            for j in 0..<8 {
                let ref = Float(Double(x[j]).squareRoot())   // correctly rounded
                let ulp = ref == 0 ? Float.leastNonzeroMagnitude : ref.ulp
                worst = max(worst, abs(y[j] - ref) / ulp)
                if k % 97 == 0 { #expect(y[j] == Float(j), "sqrt(\(j * j))") }
            }
        }
        #expect(worst <= 1, "worst \(worst) ulp")
        #expect(AdamW.sqrt8(SIMD8(repeating: 0)) == SIMD8(repeating: 0))
        #expect(AdamW.sqrt8(SIMD8(repeating: .infinity)) == SIMD8(repeating: .infinity))
    }
}
