// dnabert-probe checkpoint-stress OUT: saves training checkpoints to OUT in a loop, forever, resuming from the
// newest complete one. A test kills it with SIGKILL at random moments and checks that the newest complete
// checkpoint is always readable and holds exactly the state of its step (Tests/DNABertTests/TrainingCheckpointTests).
import DNABert
#if canImport(Glibc)
import Glibc
#endif

/// The deterministic content of step `s`: parameter i = s + (i mod 101) / 128, m = -that, v = s + 0.5.
func stressFill(model: Model, optimizer: AdamW, step s: Int) {
    for i in 0..<model.parameters.count {
        let x = Float(s) + Float(i % 101) / 128
        model.parameters[i] = x
        optimizer.m[i] = -x
        optimizer.v[i] = Float(s) + 0.5
    }
}

func stressModel() throws -> (Model, AdamW) {
    var c = ModelConfig()
    c.vocabSize = 512; c.hiddenSize = 256; c.numHeads = 4; c.numLayers = 2; c.intermediateSize = 512
    let model = try Model(config: c)
    return (model, try AdamW(layout: model.layout))
}

func checkpointStress(_ args: [String]) -> Never {
    guard args.count >= 3 else {
        print("usage: dnabert-probe checkpoint-stress OUT")
        exit(2)
    }
    let out = args[2]
    do {
        let (model, opt) = try stressModel()
        var step = 0
        if let latest = try TrainingCheckpoint.latest(out: out) {
            step = try TrainingCheckpoint.load(directory: latest, model: model, optimizer: opt).step
        }
        while true {
            step += 1
            stressFill(model: model, optimizer: opt, step: step)
            let state = TrainerState(step: step, schedule: try LRSchedule(peak: 1e-3, warmupSteps: 1, totalSteps: 1_000_000),
                                     optimizer: .pretraining)
            try TrainingCheckpoint.save(out: out, model: model, tokenizer: nil, optimizer: opt, state: state, keepLast: 2)
        }
    } catch {
        print("checkpoint-stress: \(error)")
        exit(1)
    }
}
