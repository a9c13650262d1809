"""Frasi in italiano (X, Bluesky, Mastodon)."""

# fmt: off
BANK = {
    "sep": " ",
    "open": {
        "positive": ["Pazzesco.", "Devo ammetterlo:", "Incredibile.", "Finalmente!", "Wow."],
        "neutral": ["Nota:", "Per info:", "Riassunto:", "Se ve lo siete persi:"],
        "negative": ["Sul serio?", "Uffa.", "Opinione impopolare:", "Che fatica."],
    },
    "close": {
        "positive": ["Lo adoro.", "Mi ha svoltato la giornata.", "Bellissimo.",
                     "Non riesco a smettere."],
        "neutral": ["Vedremo.", "Voi che ne pensate?", "Vi aggiorno.", "Da seguire."],
        "negative": ["Che tristezza.", "No grazie.", "Che delusione.", "Sono stufo."],
    },
    "reply": {
        "positive": ["Esatto!", "Verissimo.", "Ahaha sì."],
        "neutral": ["Fonte?", "Domanda sincera:", "Mmm,"],
        "negative": ["Non sono d'accordo.", "No.", "Ma dai."],
    },
    "concern": ["Ma qualcuno ha chiesto agli artisti?", "E il diritto d'autore?",
                "Penso agli animatori, sinceramente."],
    "emoji": {
        "positive": ["🤯", "🔥", "😍", "✨", "😂"],
        "neutral": ["👀", "🤔"],
        "negative": ["😬", "🙄", "😒"],
    },
    "tags": ["IA", "IntelligenzaArtificiale"],
    "slots": {
        "subject": ["il mio cane", "la mia gatta", "la foto del nostro matrimonio",
                    "mia nonna", "i miei figli", "la foto di classe", "i miei genitori"],
        "style": ["Studio Ghibli", "Pixar", "Simpson", "Lego", "anime anni 90"],
        "rival": ["Gemini 2.0 Flash", "Midjourney", "Grok", "DALL-E 3", "Stable Diffusion"],
        "thing": ["un menù", "un fumetto", "una locandina", "un'infografica"],
    },
    "story": {
        "rumours": {
            "claim": ["Pare che OpenAI stia per lanciare la generazione di immagini in GPT-4o.",
                      "OpenAI annuncia una diretta, tutti scommettono sulle immagini."],
            "detail": ["Ancora niente di ufficiale.", "Gemini è arrivato prima."],
            "positive": ["Non vedo l'ora."], "neutral": ["Vedremo."], "negative": ["Solo hype."],
        },
        "launch_hype": {
            "claim": ["GPT-4o ora genera immagini direttamente in ChatGPT.",
                      "Il nuovo modello di immagini di ChatGPT scrive testo leggibile.",
                      "Ho chiesto {thing} a ChatGPT ed è perfetto al primo colpo.",
                      "Puoi caricare una foto e trasformarla in stile {style}."],
            "detail": ["Il testo è perfetto.", "Lento ma preciso.",
                       "Segue il prompt meglio di {rival}."],
            "positive": ["Cambia tutto per i grafici."], "neutral": ["Qualche test qui sotto."],
            "negative": ["Addio siti di foto stock."],
        },
        "ghibli_wave": {
            "claim": ["Ho trasformato {subject} in una scena dello Studio Ghibli.",
                      "La mia timeline è solo immagini stile Ghibli.",
                      "Ecco {subject} in stile Miyazaki."],
            "detail": ["Il cielo ad acquerello è perfetto.", "I volti sono riconoscibili."],
            "positive": ["Che tenerezza.", "Lo incornicio."], "neutral": ["Ecco il mio."],
            "negative": ["Basta, sono ovunque."],
        },
        "capacity_melting": {
            "claim": ["Sam Altman dice che le loro GPU si stanno sciogliendo.",
                      "Bloccato dopo {n} immagini.",
                      "OpenAI limita temporaneamente la generazione di immagini."],
            "detail": ["Pago Plus e aspetto comunque.", "Riprova tra {n} ore, dice."],
            "positive": ["Normale con questa domanda."], "neutral": ["Capita anche a voi?"],
            "negative": ["Inutilizzabile.", "Disdico."],
        },
        "signups_free_tier": {
            "claim": ["ChatGPT ha guadagnato un milione di utenti in un'ora.",
                      "La generazione di immagini arriva anche sugli account gratuiti."],
            "detail": ["Più veloce del lancio originale."],
            "positive": ["Numeri pazzeschi."], "neutral": ["Vediamo quanti restano."],
            "negative": ["Addio server."],
        },
        "copyright_debate": {
            "claim": {
                "negative": ["Miyazaki definì l'animazione con l'IA «un insulto alla vita "
                             "stessa», e OpenAI copia il suo stile in serie.",
                             "Nessuno allo Studio Ghibli ha dato il consenso."],
                "neutral": ["Torna a circolare il video del 2016 in cui Miyazaki parla di «un "
                            "insulto alla vita stessa».",
                            "Legalmente uno stile non è protetto dal diritto d'autore."],
                "positive": ["Lo stile non è mai stato protetto, ed è giusto così."],
            },
            "detail": ["Lo disse su una demo di animazione con l'IA.",
                       "Il punto è il consenso."],
            "positive": ["Lasciate divertire la gente."], "neutral": ["Dibattito complesso."],
            "negative": ["Sostenete gli artisti.", "Vergognoso."],
        },
        "competitor_race": {
            "claim": ["Stesso prompt su GPT-4o e {rival}.", "Confronto: 4o contro {rival}."],
            "detail": ["4o ha scritto bene il testo, {rival} no."],
            "positive": ["La concorrenza fa bene."], "neutral": ["Risultati sotto."],
            "negative": ["Si copiano tutti."],
        },
        "midjourney_v7": {
            "claim": ["Midjourney V7 è uscito in alpha.", "Primi test con Midjourney V7."],
            "detail": ["Texture bellissime.", "Il testo è ancora un problema."],
            "positive": ["Midjourney è tornato."], "neutral": ["È solo un'alpha."],
            "negative": ["Troppo tardi."],
        },
        "memes_offtopic": {
            "claim": ["Io dopo aver ghiblizzato tutte le foto invece di lavorare.",
                      "Non c'entra niente, ma mi serve un caffè."],
            "detail": ["Aiuto.", "Produttività: zero."],
            "positive": ["Ahahah."], "neutral": ["Comunque."], "negative": ["Basta."],
        },
    },
}
# fmt: on
