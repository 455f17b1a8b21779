// Templates and topics for ``BenignPromptGenerator``. Every string here is benign and
// avoids the over-refusal trigger words (``OverRefusalProbes/triggerWords``: "kill",
// "execute", "shoot", ...) so the held-out probe set stays disjoint from training prompts;
// a unit test and the generator itself both check this.

enum BenignTopics {
    // MARK: - Writing

    static let writingTemplates: [@Sendable (String) -> String] = [
        { "Write a short poem about \($0)." },
        { "Write a haiku about \($0)." },
        { "Write a limerick about \($0)." },
        { "Write a short story for children about \($0)." },
        { "Write the opening paragraph of a blog post about \($0)." },
        { "Write a four-line greeting card message that mentions \($0)." },
        { "Write a dialogue between two friends talking about \($0)." },
        { "Write a cheerful social media post about \($0)." },
        { "Write a short essay introduction on \($0)." },
        { "Describe \($0) in vivid detail in one paragraph." },
        { "Write a song chorus about \($0)." },
    ]

    static let writingSubjects = [
        "autumn leaves", "a lighthouse keeper", "a lost umbrella", "the first snow of winter", "a busy train station",
        "a grandmother's garden", "a cat who loves boxes", "the ocean at dawn", "a rainy Sunday afternoon",
        "learning to ride a bicycle", "a village bakery", "a friendly robot", "the night sky", "moving to a new city",
        "a long-distance friendship", "a library at closing time", "a mountain hike", "a summer thunderstorm",
        "a school science fair", "a family road trip", "the smell of fresh bread", "an old wooden bridge",
        "a community garden", "a street musician", "a penguin on an iceberg", "a kite festival", "the last day of school",
        "a hot cup of tea", "a city park in spring", "a shy dragon", "a recycling robot", "a picnic by the river",
        "a small bookshop", "a clockmaker's workshop", "migrating geese", "a quiet snowy forest", "a sunflower field",
        "a farmers market", "a lazy dog in the sun", "the view from a hot air balloon", "a new neighbour",
        "a jar of fireflies", "a chess club", "an orchestra warming up", "a desert at night",
    ]

    // MARK: - Explanation

    static let explanationTemplates: [@Sendable (String) -> String] = [
        { "Explain \($0) in simple terms." },
        { "Explain \($0) to a ten-year-old." },
        { "What is \($0), and why does it matter?" },
        { "Give three key facts about \($0)." },
        { "How would you describe \($0) to someone new to the subject?" },
        { "What are common misconceptions about \($0)?" },
        { "Write a three-question quiz about \($0)." },
        { "What is the history behind \($0)?" },
    ]

    static let explanationSubjects = [
        "photosynthesis", "the water cycle", "plate tectonics", "how rainbows form", "the greenhouse effect",
        "supply and demand", "compound interest", "the phases of the Moon", "how vaccines train the immune system",
        "the theory of evolution", "how airplanes stay in the air", "black holes", "the Pythagorean theorem",
        "how the internet routes data", "inflation", "the Renaissance", "the printing press", "the French Revolution",
        "how tides work", "the periodic table", "DNA replication", "how batteries store energy", "ocean currents",
        "the placebo effect", "how bees make honey", "the Silk Road", "how a bill becomes law", "the scientific method",
        "how glaciers shape valleys", "opportunity cost", "how solar panels work", "the human circulatory system",
        "how clouds form", "the Industrial Revolution", "how compilers work", "the seasons on Earth",
        "how noise-cancelling headphones work", "the Doppler effect", "how recycling plants sort materials",
        "the Roman aqueducts", "how birds navigate during migration", "the difference between weather and climate",
        "how a refrigerator keeps food cold", "the basics of probability", "how coral reefs grow",
        "the origins of the Olympic Games", "how public key cryptography works", "how earthquakes are measured",
    ]

    // MARK: - Coding

    static let codingLanguages = ["Python", "Swift", "JavaScript", "Rust", "Go", "Java", "C++", "Kotlin"]

    static let codingTasks = [
        "reverses a string", "checks whether a word is a palindrome", "counts the vowels in a sentence",
        "finds the largest number in a list", "removes duplicate items from a list while keeping order",
        "merges two sorted arrays", "computes the factorial of a number", "returns the nth Fibonacci number",
        "converts Celsius to Fahrenheit", "validates a simple email address format", "capitalises every word in a title",
        "groups words by their first letter", "computes the average of a list of numbers", "flattens a nested list",
        "counts word frequencies in a paragraph", "checks whether two strings are anagrams", "rotates a matrix by 90 degrees",
        "parses a date string in ISO 8601 format", "performs a binary search on a sorted array",
        "converts a Roman numeral to an integer", "formats a number with thousands separators",
        "computes the greatest common divisor of two integers", "reads a CSV file and sums one column",
        "generates all permutations of a short string", "checks whether a year is a leap year",
        "finds the longest common prefix of several strings", "implements a simple stack", "implements a queue with two stacks",
        "sorts a list of people by age", "chunks a list into groups of a given size", "computes a running total",
        "detects a cycle in a linked list", "converts a decimal number to binary", "splits a sentence into words",
        "finds the median of a list", "counts the islands in a grid of zeros and ones", "validates balanced parentheses",
        "computes the edit distance between two words",
    ]

    static let codingTemplates: [@Sendable (String, String) -> String] = [
        { "Write a \($0) function that \($1)." },
        { "Write unit tests in \($0) for a function that \($1)." },
        { "Show an idiomatic \($0) solution for a function that \($1), and explain it." },
    ]

    static let codingConcepts = [
        "closures", "generics", "error handling", "immutability", "recursion", "iterators", "pattern matching",
        "memory management", "modules and packages", "string formatting", "concurrency", "interfaces or protocols",
        "unit testing", "dependency management", "type inference",
    ]

    static let codingConceptTemplates: [@Sendable (String, String) -> String] = [
        { "Explain \($1) in \($0) with a small example." },
        { "What are good practices for \($1) in \($0)?" },
    ]

    // MARK: - Maths (numbers drawn by the generator)

    static let mathsConceptTopics = [
        "find the derivative of a polynomial", "add two fractions with different denominators",
        "compute the mean, median and mode of a data set", "solve a quadratic equation by factoring",
        "convert a fraction to a percentage", "calculate the area of a circle", "find the slope of a line through two points",
        "use the distributive property", "estimate a square root without a calculator", "compute simple interest",
        "read a box plot", "calculate the probability of rolling a sum of seven with two dice",
        "find the volume of a cylinder", "round numbers to significant figures", "multiply matrices by hand",
        "find the least common multiple of two numbers", "convert between metric units of length",
        "solve a system of two linear equations", "compute a percentage increase", "work with negative exponents",
    ]

    static let mathsConceptTemplates: [@Sendable (String) -> String] = [
        { "Explain how to \($0), with a worked example." },
        { "Give me three practice problems that ask me to \($0), with answers." },
    ]

    // MARK: - Advice

    static let adviceTemplates: [@Sendable (String) -> String] = [
        { "What are some tips for \($0)?" },
        { "I would like some practical advice on \($0)." },
        { "What mistakes do beginners often make when \($0)?" },
        { "How should I get started with \($0)?" },
        { "Give me a simple one-week plan for \($0)." },
        { "What resources would you recommend for \($0)?" },
    ]

    static let adviceSituations = [
        "learning to play the guitar", "saving money on groceries", "preparing for a job interview",
        "keeping a houseplant healthy", "starting a running routine", "studying for a maths exam",
        "improving my sleep schedule", "learning a new language as an adult", "organising a small apartment",
        "cooking healthy meals on a budget", "planning a first trip abroad", "writing a cover letter",
        "giving a presentation at work", "starting a vegetable garden", "building a reading habit",
        "training a puppy to sit", "making friends in a new city", "negotiating a salary offer",
        "learning to swim", "keeping a tidy desk", "planning a birthday party for a child", "starting to journal",
        "choosing a first laptop", "learning to draw portraits", "hosting a dinner for friends",
        "preparing for a marathon", "teaching a child to read", "staying focused while working from home",
        "reducing screen time", "learning to knit", "decluttering a wardrobe", "writing a personal budget",
        "practising mindfulness", "improving my handwriting", "learning basic car maintenance",
        "starting a podcast", "volunteering in my community", "caring for an elderly parent",
        "choosing a university course", "learning to bake bread",
    ]

    // MARK: - Summarising

    static let summaryTemplates: [@Sendable (String) -> String] = [
        { "Summarise the main ideas of \($0) in three sentences." },
        { "Write a one-paragraph summary of \($0)." },
        { "List the key points of \($0)." },
        { "Summarise \($0) for a busy reader in under fifty words." },
        { "Give a short overview of \($0) suitable for a school report." },
    ]

    static let summarySubjects = [
        "the plot of Pride and Prejudice", "the history of the printing press", "the benefits of regular exercise",
        "the theory of plate tectonics", "the life of Marie Curie", "the plot of The Odyssey", "the causes of the Great Depression",
        "the story of the Apollo 11 Moon landing", "the plot of Romeo and Juliet", "the life cycle of a butterfly",
        "the history of the bicycle", "the main arguments for renewable energy", "the plot of Moby-Dick",
        "the history of jazz", "the life of Leonardo da Vinci", "the causes of the First World War",
        "the story of the Wright brothers", "the history of the Olympic Games", "the plot of Alice in Wonderland",
        "how the European Union was formed", "the benefits of a balanced diet", "the history of chocolate",
        "the life of Ada Lovelace", "the invention of the telephone", "the plot of Little Women",
        "the history of the internet", "the water crisis in arid regions", "the history of tea",
        "the story of the Great Wall of China", "the discovery of penicillin", "the plot of Treasure Island",
        "the history of writing systems", "the ideas in Darwin's On the Origin of Species", "the history of aviation",
        "the plot of Frankenstein", "the history of the compass", "the life of Nelson Mandela",
        "the rise of remote work", "the history of public libraries", "the story of the Titanic",
    ]
}
