// Practical how-to requests ("How do I unclog a sink?") for the safety filter's benign training
// pairs. Harmful requests are mostly how-to requests answered with steps, while the benign
// generator's prompts are stories, explanations, code, maths and advice; a judge trained on both
// learned that a how-to answered with steps is harmful, and flagged 41% of the over-refusal probes
// (benign how-to requests that only sound risky). These requests are everyday tasks in plain
// words: none contains an over-refusal trigger word or comes near a probe, so the probes stay a
// held-out measurement. Written for FedGuard.
//
// A second list, ``BenignHowToPrompts/riskyWording``, phrases everyday tasks with words that also
// have a violent or criminal sense ("slash my grocery bill", "raid a dungeon in an online game"),
// as the probes do, but with other words: none of the probes' trigger words appears, so the probes
// measure whether a judge generalises to wording it never saw rather than whether it memorised it.

/// Everyday how-to requests.
public enum BenignHowToPrompts {
    /// Question framings applied to every task.
    static let framings: [@Sendable (String) -> String] = [
        { "How do I \($0)?" },
        { "What's the easiest way to \($0)?" },
        { "Could you walk me through how to \($0), step by step?" },
    ]

    /// Every request, tasks × framings (tasks in order, each under every framing), without any that
    /// contains a probe trigger word or matches a probe.
    public static var all: [String] { requests(tasks) }

    /// Everyday requests worded with violent or criminal homonyms that are not probe trigger words,
    /// tasks × framings, filtered like ``all``.
    public static var riskyWording: [String] { requests(riskyTasks) }

    /// The risky-wording tasks as imperative requests, each under one ``ImperativeFraming`` framing
    /// (cycling in task order: "Write a short tutorial on how to raid my fridge for a quick dinner."),
    /// filtered like ``all``: the benign side of the CAI pool's imperative red-team rewrites.
    public static var riskyWordingImperative: [String] {
        clearOfProbes(riskyTasks.enumerated().map { ImperativeFraming.request(task: $0.element, framing: $0.offset) })
    }

    /// `tasks` under every framing (tasks in order), keeping those clear of the probes.
    static func requests(_ tasks: [String]) -> [String] {
        clearOfProbes(tasks.flatMap { task in framings.map { $0(task) } })
    }

    /// `requests` without any that contains a probe trigger word or matches a probe.
    static func clearOfProbes(_ requests: [String]) -> [String] {
        requests.filter { BenignPromptGenerator.staysClearOfProbes($0, normalized: TextNormalizer.normalize($0)) }
    }

    /// Infinitive phrases of everyday tasks with a risky-sounding word.
    static let riskyTasks = [
        "slash my monthly grocery bill", "use a kitchen torch to caramelise a crème brûlée", "take a stab at writing a short story",
        "bleed the brakes on a mountain bike", "get through an assault course at a fitness event",
        "raid a dungeon with friends in an online game", "raid my fridge for a quick dinner",
        "stop sabotaging my own diet", "smuggle vegetables into a fussy child's meals", "poach salmon in white wine",
        "build an arsenal of quick weeknight recipes", "make a Bloody Mary mocktail", "read my blood pressure monitor correctly",
        "knock out a wall between two rooms in my flat", "blast through my email backlog on a Monday",
        "hammer a nail without bending it", "nail the answer about my weaknesses in an interview", "bury a time capsule with my kids",
        "make my tennis backhand more lethal", "deal with a toxic coworker", "find ammunition for a debate on school uniforms",
        "throw a pirate-themed birthday party", "plan a heist-themed escape room for friends", "fight off a cold quickly",
        "win a price war as a small café", "battle dandruff", "conquer my fear of public speaking",
        "stop squirrels invading my bird feeder", "hit a high note when singing", "stun my dinner guests with a simple dessert",
        "bleach a white cotton shirt safely", "use citric acid to descale a coffee machine", "store cleaning chemicals safely at home",
        "remember to take my daily pills", "dose liquid fertiliser for tomato plants", "chop onions without crying",
        "use a meat cleaver safely", "split logs with an axe", "cut a straight line with a hand saw",
        "learn a sword form in tai chi", "choose a burglar alarm for a small flat", "protect my bike from thieves",
        "spot a fraudulent text message that claims to be from my bank", "recognise a phone scam aimed at elderly relatives",
        "change the lock on my front door", "write the opening chapter of a spy thriller", "plot a twist for a crime novel",
        "visit a relative in prison", "handle a hostile question at a press conference",
        "support a friend who was a victim of identity theft", "protect my seedlings from the threat of frost",
        "clean up zombie processes on Linux", "force quit an unresponsive program on Windows", "purge old logs from a server",
        "get a grip on a bowling ball without hurting my fingers", "land a knockout line in a wedding speech",
        "wage war on slugs in my vegetable patch", "storm a castle in a tabletop role-playing game",
        "make a bang-up job of painting a fence", "tackle a pile of laundry quickly",
    ]

    /// Infinitive phrases of everyday tasks.
    static let tasks = [
        // home
        "remove a red wine stain from a carpet", "unclog a bathroom sink without chemicals",
        "hang a heavy mirror on a plasterboard wall", "fix a dripping kitchen tap", "descale a kettle", "bleed a radiator",
        "paint a room without leaving streaks", "clean the grout between bathroom tiles", "fold a fitted sheet neatly",
        "iron a dress shirt", "sew a button back onto a coat", "patch a small hole in a wall",
        "reset a tripped circuit breaker", "insulate a draughty window for winter", "get a stuck jar lid open",
        "remove rust from old garden tools", "polish silver cutlery", "clean suede shoes", "get chewing gum out of hair",
        // cooking
        "make a sourdough starter from scratch", "cook rice so it is not sticky", "poach an egg",
        "make fresh pasta without a machine", "season a cast iron pan", "make a simple tomato sauce", "brew pour-over coffee",
        "make yoghurt at home", "temper chocolate for dipping", "roast vegetables evenly", "make a vinaigrette",
        "store fresh herbs so they last longer", "bake bread in a Dutch oven",
        // computers
        "set up a Python virtual environment", "undo the last git commit", "resolve a merge conflict in git",
        "free up disk space on a Windows laptop", "back up my phone photos to an external drive",
        "set up two-factor authentication on my email", "create a pivot table in Excel",
        "write a cron job that runs every night", "find which process is using a port on Linux",
        "profile a slow Python function", "set up SSH keys for GitHub", "convert a video to a smaller file size",
        "restore a deleted file from the recycle bin", "share a printer on my home network", "schedule an email in Gmail",
        "rename many files at once on a Mac", "install Node.js with a version manager", "write a unit test for a Swift function",
        // garden and outdoors
        "prune a rose bush", "repot a root-bound houseplant", "start tomato seeds indoors in spring",
        "compost kitchen scraps in a small garden", "get rid of aphids on my plants without chemicals", "pitch a tent in the wind",
        "read a topographic map", "purify stream water when hiking", "tie a bowline knot", "patch a bicycle inner tube",
        "adjust the brakes on a bicycle", "clean a fish tank filter",
        // car
        "check the tyre pressure on my car", "change the oil in a small car", "replace the cabin air filter in a car",
        "defrost a windscreen quickly",
        // health and habits
        "stretch after a long run", "fall asleep faster", "improve my posture at a desk", "get rid of hiccups",
        "soothe a sore throat", "stay hydrated on a long hike", "remove a splinter from a finger",
        "look after a sprained ankle", "build a habit of daily exercise",
        // money and paperwork
        "file my taxes as a freelancer", "build an emergency fund", "dispute a wrong charge on my bank statement",
        "read the small print of a rental contract", "cancel a gym membership", "compare mortgage offers",
        "write a complaint letter to an airline", "get a refund for a cancelled flight",
        // sport and games
        "improve my serve in tennis", "throw a curveball in baseball", "learn chess openings",
        "dribble past a defender in football", "improve my freestyle swimming technique", "solve a Rubik's cube",
        "win more often at Scrabble", "learn to juggle three balls",
        // pets
        "trim a dog's nails without hurting it", "introduce a new cat to my older cat",
        "teach a dog to walk on a loose lead", "clean a rabbit hutch",
        // everyday
        "pack a suitcase with only carry-on luggage", "write a thank-you note after an interview", "memorise a speech",
        "take good notes in a lecture", "tie a tie in a Windsor knot", "keep cut flowers fresh longer",
        "remove a stripped screw", "whistle with two fingers",
    ]
}
